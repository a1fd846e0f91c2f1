import { afterAll, describe, expect, it } from 'bun:test';
import { ConfigError, loadConfig, settingKind } from '../../src/shared/runtime/config.ts';
import { settingInMessage, urlWithoutPassword } from '../../src/shared/runtime/setting-in-message.ts';
import { killAll, spawnService, type ServiceName } from '../helpers/processes.ts';
import { allowSlowTests } from '../helpers/slow.ts';

// The last tests start real processes.
allowSlowTests();
afterAll(killAll);

/** The problems a ConfigError lists, as one string. */
function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.join('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      database: { url: 'postgres://postgres@127.0.0.1:5432/orders', poolSize: 10 },
      redisUrl: 'redis://127.0.0.1:6379/0',
      logLevel: 'info',
      api: { port: 3000, idempotencyKeyTtlHours: 24 },
      consumer: { concurrency: 16, batchSize: 100, claimIdleMs: 15_000, maxDeliveries: 5 },
      testing: { crashAt: 'none' },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.consumer)).toBe(true);
  });

  it('converts numbers and treats an empty variable as unset', () => {
    const config = loadConfig({ PORT: '8080', LOG_LEVEL: '' });
    expect(config.api.port).toBe(8080);
    expect(config.logLevel).toBe('info');
  });

  it('names every bad variable with the value it had', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://localhost/x' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('PORT="eighty"');
    expect(problems).toContain('LOG_LEVEL="loud": expected one of fatal, error, warn, info');
    expect(problems).toContain('DATABASE_URL="mysql://localhost/x"');
  });

  it('names a refused secret and its rule without its value', () => {
    const problems = problemsOf({ ADMIN_TOKEN: 'short-secret-x' });
    expect(problems).toContain('ADMIN_TOKEN (a secret, value not shown): expected string length greater or equal to 16');
    expect(problems).not.toContain('short-secret-x');
  });

  it("names a refused URL and its rule with the URL's password masked, or without the value when it is not a URL", () => {
    const problems = problemsOf({
      DATABASE_URL: 'postgresql+asyncpg://u:hunter2@h/db',
      REDIS_URL: 'hunter2',
    });
    expect(problems).toContain(`DATABASE_URL="postgresql+asyncpg://u:***@h/db": expected string to match '^postgres(ql)?://'`);
    expect(problems).toContain(`REDIS_URL (value not shown: it may hold a password): expected string to match '^rediss?://'`);
    expect(problems).not.toContain('hunter2');
  });

  it('treats every setting named like a secret as one, and the URLs as URLs', () => {
    expect(settingKind('ADMIN_TOKEN')).toBe('secret');
    for (const name of ['STRIPE_SECRET_KEY', 'SMTP_PASSWORD', 'WEBHOOK_TOKEN_V2', 'GATEWAY_API_KEY']) expect(settingKind(name)).toBe('secret');
    expect(settingKind('DATABASE_URL')).toBe('url');
    expect(settingKind('REDIS_URL')).toBe('url');
    expect(settingKind('IDEMPOTENCY_KEY_TTL_HOURS')).toBe('plain');
  });

  it('reads a retry schedule of whole milliseconds, and refuses anything else naming the setting', () => {
    expect(loadConfig({}).paymentRetryScheduleMs).toEqual([1000, 5000, 30000, 120000, 600000]);
    expect(loadConfig({ PAYMENT_RETRY_SCHEDULE_MS: ' 200, 400 ,800' }).paymentRetryScheduleMs).toEqual([200, 400, 800]);
    for (const bad of ['1000,,5000', '0,100', '1s', '-5', '1.5', 'lots']) {
      expect(() => loadConfig({ PAYMENT_RETRY_SCHEDULE_MS: bad })).toThrow(/PAYMENT_RETRY_SCHEDULE_MS/);
    }
    expect(() => loadConfig({ GATEWAY_RATE_LIMIT_PER_S: '0' })).toThrow(/GATEWAY_RATE_LIMIT_PER_S/);
    expect(() => loadConfig({ DB_STATEMENT_TIMEOUT_MS: '10' })).toThrow(/DB_STATEMENT_TIMEOUT_MS/);
  });

  it('pays through Stripe at the local sandbox by default, and refuses a live key with the development webhook secret', () => {
    const config = loadConfig({});
    expect(config.payment).toEqual({ provider: 'stripe', currency: 'usd', concurrency: 256 });
    expect(config.stripe).toMatchObject({ apiUrl: 'http://127.0.0.1:12111', idempotencyTtlMs: 86_400_000, live: false });
    expect(config.api.paymentMethodRequired).toBe(false);
    expect(() => loadConfig({ STRIPE_SECRET_KEY: 'sk_live_abc' })).toThrow(/STRIPE_WEBHOOK_SECRET must be set/);
    const live = loadConfig({ STRIPE_SECRET_KEY: 'sk_live_abc', STRIPE_WEBHOOK_SECRET: 'whsec_endpoint' });
    expect(live.api.paymentMethodRequired).toBe(true);
    expect(loadConfig({ STRIPE_SECRET_KEY: 'sk_live_abc', STRIPE_WEBHOOK_SECRET: 'whsec_endpoint', PAYMENT_PROVIDER: 'mock' }).api.paymentMethodRequired).toBe(false);
    for (const [name, bad] of [['PAYMENT_PROVIDER', 'paypal'], ['STRIPE_SECRET_KEY', 'pk_test_abc'], ['STRIPE_API_URL', 'api.stripe.com'], ['PAYMENT_CURRENCY', 'USD']] as const) {
      expect(() => loadConfig({ [name]: bad })).toThrow(new RegExp(name));
    }
  });

  it('refuses to keep idempotency keys for less than 24 hours', () => {
    expect(() => loadConfig({ IDEMPOTENCY_KEY_TTL_HOURS: '1' })).toThrow(/IDEMPOTENCY_KEY_TTL_HOURS="1"/);
  });

  it('refuses a Redis Cluster without partitions, or with a hash tag in the prefix, naming the settings', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' })).toThrow(/STREAM_PARTITIONS=1 must be at least 2 with REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', STREAM_PARTITIONS: '3', STREAM_PREFIX: '{app}:' })).toThrow(/STREAM_PREFIX="\{app\}:"/);
    expect(() => loadConfig({ STREAM_PARTITIONS: '3', CONSUMER_PARTITIONS: '2-3' })).toThrow(/CONSUMER_PARTITIONS="2-3"/);
    expect(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001', STREAM_PARTITIONS: '6', CONSUMER_PARTITIONS: '0-2,5' }).partitions).toEqual({ count: 6, consumed: [0, 1, 2, 5] });
  });
});

describe('a value in a configuration error', () => {
  it('is a URL with its password and credential parameters masked', () => {
    expect(urlWithoutPassword('postgres://u:p@ss@h:5432/db?sslmode=require&sslpassword=x1&password=x2')).toBe(
      'postgres://u:***@h:5432/db?sslmode=require&sslpassword=***&password=***',
    );
    expect(urlWithoutPassword('redis://:hunter2@h:6379/0')).toBe('redis://:***@h:6379/0');
    expect(urlWithoutPassword('postgres://postgres@127.0.0.1:5432/orders')).toBe('postgres://postgres@127.0.0.1:5432/orders');
  });

  it('is not shown at all when it may hold a password and is not a URL with a host', () => {
    // Without a scheme, `u:hunter2@h` parses as scheme `u:` with the password in its path.
    for (const value of ['u:hunter2@h/db', 'postgres://u:hunter2@h:99999/db', 'postgres://u:hunter2@[::1/db']) {
      expect(settingInMessage('SOME_SETTING', value, 'plain')).toBe('SOME_SETTING (value not shown: it may hold a password)');
    }
    expect(settingInMessage('SOME_URL', 'hunter2', 'url')).toBe('SOME_URL (value not shown: it may hold a password)');
    expect(settingInMessage('PORT', 'eighty', 'plain')).toBe('PORT="eighty"');
  });
});

describe('a service started with a bad secret and a bad URL', () => {
  for (const name of ['api', 'payment', 'notify'] as ServiceName[]) {
    it(`${name} stops naming the variables and the rules, and prints neither the token nor the password`, async () => {
      const service = spawnService(name, { ADMIN_TOKEN: 'short-secret-x', DATABASE_URL: 'postgresql+asyncpg://u:hunter2@h/db' });
      expect(await service.proc.exited).toBe(1);
      await service.drained;
      const output = [...service.stderr, ...service.lines.map((line) => JSON.stringify(line))].join('\n');
      expect(output).toContain('ADMIN_TOKEN (a secret, value not shown): expected string length greater or equal to 16');
      expect(output).toContain(`DATABASE_URL="postgresql+asyncpg://u:***@h/db": expected string to match '^postgres(ql)?://'`);
      expect(output).not.toContain('short-secret-x');
      expect(output).not.toContain('hunter2');
    });
  }
});
