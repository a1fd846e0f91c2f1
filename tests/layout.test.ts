import { describe, expect, it } from 'bun:test';
import { Glob } from 'bun';
import { dirname, join, relative } from 'node:path';

/**
 * The dependency direction, as docs/architecture.md draws it: arrows point down only.
 *   services (api, payment, notify) -> worker -> ops -> pipeline -> runtime -> db
 *                                                     pipeline -> streams, db
 *   backoff (the one backoff policy) is a leaf under everything: every folder may import it, it imports nothing of ours
 *   tracing (OpenTelemetry) sits at the bottom beside streams and db: anything above may use it; it uses only the streams library (the consumer's processing hook type)
 * A folder may import itself and what this table lists; packages from node_modules are always fine.
 */
const MAY_IMPORT: Record<string, string[]> = {
  // The one backoff policy (the runner, the Redis and PostgreSQL reconnects, the API's and the gateway's retries): a leaf.
  'shared/backoff': [],
  'shared/streams': ['shared/backoff'],
  'shared/db': ['shared/backoff'],
  // OpenTelemetry glue; the streams library takes its spans through a hook (ProcessingHook), never an import.
  // The consumer's processing hook is the streams library's type; tracing fills it in.
  'shared/tracing': ['shared/streams', 'shared/backoff'],
  'shared/runtime': ['shared/db', 'shared/backoff', 'shared/tracing'],
  'shared/pipeline': ['shared/streams', 'shared/db', 'shared/runtime', 'shared/tracing', 'shared/backoff'],
  'shared/ops': ['shared/pipeline', 'shared/streams', 'shared/db', 'shared/runtime', 'shared/tracing', 'shared/backoff'],
  'shared/worker': ['shared/ops', 'shared/pipeline', 'shared/streams', 'shared/db', 'shared/runtime', 'shared/tracing', 'shared/backoff'],
  // The payment provider's side shared by the payment worker and the API's webhook endpoint: the SDK
  // client, what an intent's state means, recording an outcome once.
  'shared/payments': ['shared/pipeline', 'shared/streams', 'shared/db', 'shared/runtime', 'shared/tracing', 'shared/backoff'],
  api: ['shared'],
  payment: ['shared'],
  notify: ['shared'],
  // The Stripe sandbox stands on the other side of a protocol boundary: it imports NOTHING of ours,
  // so that it is an independent implementation of Stripe's API, and our client is tested against
  // Stripe's documented behaviour rather than against our own reading of it shared by both sides.
  sandbox: [],
};

const SRC = join(import.meta.dir, '..', 'src');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The area of a path under src/: 'shared/streams', 'api', ... */
function areaOf(pathUnderSrc: string): string {
  const parts = pathUnderSrc.split('/');
  return parts[0] === 'shared' ? `shared/${parts.length > 2 ? parts[1] : '(root)'}` : parts[0]!;
}

/** Every relative import in src/ as [importing file's area, imported file's area, description]. */
async function edges(): Promise<[string, string, string][]> {
  const found: [string, string, string][] = [];
  // [importing area, imported file (path under src/), what]
  for await (const file of new Glob('**/*.ts').scan(SRC)) {
    const text = await Bun.file(join(SRC, file)).text();
    for (const match of text.matchAll(IMPORT)) {
      const spec = match[1] ?? match[2]!;
      if (!spec.startsWith('.')) continue;
      const target = relative(SRC, join(SRC, dirname(file), spec));
      found.push([areaOf(file), target.startsWith('..') ? '(outside src)' : target, `${file} imports ${spec}`]);
    }
  }
  return found;
}

/** May code in area `from` import the file `to` (a path under src/, or an area)? */
function allowed(from: string, to: string): boolean {
  if (from === to || to.startsWith(`${from}/`)) return true;
  return (MAY_IMPORT[from] ?? []).some((area) => to === area || to.startsWith(`${area}/`));
}

describe('the layout', () => {
  it('has every file of src/ in a known area (no loose files in src/shared/)', async () => {
    const areas = new Set<string>();
    for await (const file of new Glob('**/*.ts').scan(SRC)) areas.add(areaOf(file));
    expect([...areas].filter((area) => !(area in MAY_IMPORT))).toEqual([]);
  });

  it('imports only downwards: shared never a service, streams nothing of ours but the backoff, backoff nothing, no service another', async () => {
    const all = await edges();
    expect(all.length).toBeGreaterThan(50);
    const wrong = all.filter(([from, to]) => !allowed(from, to)).map(([, , what]) => what);
    expect(wrong).toEqual([]);
  });

  it('catches a wrong import (the rule itself is not vacuous)', () => {
    expect(allowed('shared/streams', 'shared/db')).toBe(false);
    expect(allowed('shared/streams', 'shared/tracing/consumer-spans.ts')).toBe(false);
    expect(allowed('shared/tracing', 'shared/runtime/log.ts')).toBe(false);
    expect(allowed('shared/ops', 'payment')).toBe(false);
    expect(allowed('payment', 'notify')).toBe(false);
    expect(allowed('api', 'payment')).toBe(false);
    expect(allowed('shared/pipeline', 'shared/ops')).toBe(false);
    expect(allowed('payment', 'shared/pipeline/topology.ts')).toBe(true);
    expect(allowed('shared/runtime', 'shared/backoff/backoff.ts')).toBe(true);
    expect(allowed('shared/streams', 'shared/backoff/backoff.ts')).toBe(true);
    expect(allowed('payment', 'shared/backoff/backoff.ts')).toBe(true);
    expect(allowed('shared/backoff', 'shared/streams')).toBe(false);
    expect(allowed('shared/backoff', 'shared/runtime/log.ts')).toBe(false);
    expect(allowed('shared/runtime', 'shared/streams/consumer.ts')).toBe(false);
    expect(allowed('sandbox', 'shared/runtime/log.ts')).toBe(false);
    expect(allowed('payment', 'sandbox/stripe/sandbox.ts')).toBe(false);
  });

  // Spans enter the domain code through the consumer's processing hook (item.run) and the outbox writer,
  // never through an import: a handler or a service reads as the domain alone.
  it('has no tracing import in handlers or services (src/payment, src/notify, src/api/services)', async () => {
    const domain = (await edges()).filter(([, to, what]) => /^(payment|notify|api\/services)\//.test(what) && to.startsWith('shared/tracing'));
    expect(domain.map(([, , what]) => what)).toEqual([]);
  });
});
