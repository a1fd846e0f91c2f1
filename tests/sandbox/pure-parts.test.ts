import { describe, expect, it } from 'bun:test';
import { loadSandboxConfig, SandboxConfigError } from '../../src/sandbox/stripe/config.ts';
import { parseFaultConfig } from '../../src/sandbox/stripe/faults/fault-config.ts';
import { FaultSwitch } from '../../src/sandbox/stripe/faults/fault-switch.ts';
import { PerSecondLimit } from '../../src/sandbox/stripe/faults/rate-limiter.ts';
import { FormSyntaxError, parseForm } from '../../src/sandbox/stripe/form.ts';
import { parseSearchQuery, SearchQueryError } from '../../src/sandbox/stripe/ledger/search-query.ts';
import { retryDelayMs } from '../../src/sandbox/stripe/webhooks/retry-schedule.ts';

describe('the form parser', () => {
  it("reads the SDK's bracket encoding into hashes and arrays", () => {
    const body = 'amount=2000&metadata[order_id]=o%201&payment_method_types[0]=card&payment_method_types[1]=link&automatic_payment_methods%5Benabled%5D=true&expand[]=a&expand[]=b&description=';
    expect(parseForm(body)).toEqual({
      amount: '2000',
      metadata: { order_id: 'o 1' },
      payment_method_types: ['card', 'link'],
      automatic_payment_methods: { enabled: 'true' },
      expand: ['a', 'b'],
      description: '',
    });
  });

  it('keeps `__proto__` and `constructor` as ordinary keys, never reaching Object.prototype', () => {
    const params = parseForm('__proto__[polluted]=1&metadata[constructor][x]=2&constructor[y]=3');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object as unknown as Record<string, unknown>).y).toBeUndefined();
    expect(Object.keys(params).sort()).toEqual(['__proto__', 'constructor', 'metadata']);
  });

  it('refuses a name given both as a value and as a hash, and broken encoding', () => {
    expect(() => parseForm('metadata=x&metadata[a]=1')).toThrow(FormSyntaxError);
    expect(() => parseForm('a=%E0%A4%A')).toThrow(FormSyntaxError);
    expect(() => parseForm('a[b=1')).toThrow(FormSyntaxError);
  });
});

describe('the search query parser', () => {
  it('reads metadata, status and numeric clauses joined by AND, with either quote and escapes', () => {
    expect(parseSearchQuery(`metadata['order_id']:'o\\'1' AND status:"succeeded" AND amount>=500 AND -currency:'eur'`)).toEqual({
      joiner: 'AND',
      clauses: [
        { negated: false, field: 'metadata', key: 'order_id', operator: ':', value: "o'1" },
        { negated: false, field: 'status', operator: ':', value: 'succeeded' },
        { negated: false, field: 'amount', operator: '>=', value: 500 },
        { negated: true, field: 'currency', operator: ':', value: 'eur' },
      ],
    });
    expect(parseSearchQuery("status:'canceled' OR status:'succeeded'").joiner).toBe('OR');
    expect(parseSearchQuery("metadata['x']:null").clauses[0]!.value).toBeNull();
  });

  it('refuses AND mixed with OR, unquoted strings, unterminated strings, and too many clauses', () => {
    expect(() => parseSearchQuery("status:'a' AND status:'b' OR status:'c'")).toThrow(SearchQueryError);
    expect(() => parseSearchQuery('status:succeeded')).toThrow(SearchQueryError);
    expect(() => parseSearchQuery("status:'open")).toThrow(SearchQueryError);
    expect(() => parseSearchQuery(Array(11).fill("status:'a'").join(' OR '))).toThrow(SearchQueryError);
  });
});

describe('the fault switch', () => {
  const config = (rules: unknown[], seed = 1) => parseFaultConfig({ rules, seed });

  it('hits every Nth request of its endpoints, at most `times` times, and counts only what it was asked about', () => {
    const faults = new FaultSwitch(config([{ fault: 'error_after', every: 2, times: 2, endpoints: ['confirm'] }]));
    const hits = Array.from({ length: 8 }, () => Boolean(faults.draw('error_after', 'confirm')));
    expect(hits).toEqual([false, true, false, true, false, false, false, false]);
    expect(faults.draw('error_after', 'create')).toBeUndefined();
    expect(faults.draw('drop_after', 'confirm')).toBeUndefined();
    expect(faults.ruleCounts[0]).toMatchObject({ matched: 4, fired: 2 });
  });

  it('repeats the same choices for the same seed, and others for another', () => {
    const pattern = (seed: number) => {
      const faults = new FaultSwitch(config([{ fault: 'drop_after', rate: 0.3 }], seed));
      return Array.from({ length: 40 }, () => (faults.draw('drop_after', 'confirm') ? 1 : 0)).join('');
    };
    expect(pattern(7)).toBe(pattern(7));
    expect(pattern(7)).not.toBe(pattern(8));
    expect(pattern(7)).toContain('1');
  });

  it('adds jitter within its bound to the latency', () => {
    const faults = new FaultSwitch(config([{ fault: 'latency', ms: 100, jitterMs: 20, endpoints: ['retrieve'] }]));
    const delays = Array.from({ length: 50 }, () => faults.latencyMs('retrieve'));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...delays)).toBeLessThanOrEqual(120);
    expect(new Set(delays).size).toBeGreaterThan(1);
    expect(faults.latencyMs('create')).toBe(0);
  });

  it('refuses an unknown fault or field', () => {
    expect(() => parseFaultConfig({ rules: [{ fault: 'meltdown' }] })).toThrow('Invalid fault config');
    expect(() => parseFaultConfig({ rules: [{ fault: 'latency', msec: 5 }] })).toThrow('Invalid fault config');
    expect(() => parseFaultConfig({ rules: [{ fault: 'latency', endpoints: ['refund'] }] })).toThrow('Invalid fault config');
  });
});

describe('the rate limit', () => {
  it('lets `limit` requests through per second and refuses the rest until the next second', () => {
    const limit = new PerSecondLimit();
    const second = (start: number) => Array.from({ length: 4 }, (_, i) => limit.allow(3, start + i));
    expect(second(10_000)).toEqual([true, true, true, false]);
    expect(second(11_000)).toEqual([true, true, true, false]);
    expect(limit.allow(0, 11_500)).toBe(true);
  });
});

describe('the webhook retry schedule', () => {
  it('waits each entry in turn after each failure, then gives up', () => {
    expect([1, 2, 3, 4].map((failures) => retryDelayMs(failures, [100, 500, 2000]))).toEqual([100, 500, 2000, undefined]);
  });
});

describe('the settings', () => {
  it('have defaults, and read comma lists and the fault JSON', () => {
    const defaults = loadSandboxConfig({});
    expect(defaults).toMatchObject({ port: 12111, dbPath: ':memory:', idempotencyTtlMs: 86_400_000, webhooks: { urls: [], secret: 'whsec_local_sandbox' } });
    const set = loadSandboxConfig({
      STRIPE_SANDBOX_WEBHOOK_URL: 'http://a/hook,http://b/hook',
      STRIPE_SANDBOX_WEBHOOK_RETRY_MS: '100,500,2000',
      STRIPE_SANDBOX_LATENCY_MS: '30',
      STRIPE_SANDBOX_FAULTS: '[{"fault":"drop_after","every":3,"endpoints":["confirm"]}]',
    });
    expect(set.webhooks).toMatchObject({ urls: ['http://a/hook', 'http://b/hook'], retryScheduleMs: [100, 500, 2000] });
    expect(set.faults.rules).toEqual([
      { fault: 'latency', ms: 30, jitterMs: 0 },
      { fault: 'drop_after', every: 3, endpoints: ['confirm'] },
    ]);
  });

  it('name every bad variable', () => {
    let error: unknown;
    try {
      loadSandboxConfig({ STRIPE_SANDBOX_PORT: 'twelve', STRIPE_SANDBOX_WEBHOOK_RETRY_MS: '1,,2', STRIPE_SANDBOX_WEBHOOK_SECRET: 'secret' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SandboxConfigError);
    expect((error as SandboxConfigError).problems.join('\n')).toContain('STRIPE_SANDBOX_PORT');
    expect((error as SandboxConfigError).problems.join('\n')).toContain('STRIPE_SANDBOX_WEBHOOK_RETRY_MS');
    expect((error as SandboxConfigError).problems.join('\n')).toContain('STRIPE_SANDBOX_WEBHOOK_SECRET');
    expect(() => loadSandboxConfig({ STRIPE_SANDBOX_FAULTS: 'not json' })).toThrow(SandboxConfigError);
  });
});
