import { idempotencyEndpointMismatch, idempotencyKeyInUse, idempotencyKeyReused, idempotencyKeyTooLong } from './errors.ts';
import type { Reply } from './http/reply.ts';
import type { IdempotencyTable, SavedReply } from './store/idempotency-table.ts';

/** A key seen for the first time (or again after it expired): the request runs, then saves or releases it. */
export interface NewKey {
  kind: 'new';
  /** The endpoint began and this is its answer: kept for the key's lifetime. */
  save(reply: Reply, requestId: string): void;
  /** The endpoint never began (validation failed, a 500 before the effect): nothing is kept. */
  release(): void;
}

export type KeyCheck = NewKey | { kind: 'replay'; saved: SavedReply };

/**
 * Stripe's idempotency for API v1: the first reply once the endpoint begins is saved and replayed
 * for the same key and parameters, whatever it was (a 500 included); the same key with other
 * parameters or on another endpoint is refused; a key whose first request is still running answers
 * 409; a request that fails validation saves nothing. Keys are forgotten `ttlMs` after first use.
 */
export function createIdempotency({ table, ttlMs, now }: { table: IdempotencyTable; ttlMs: number; now: () => number }) {
  // Process-local on purpose: a request cannot outlive the process it runs in.
  const running = new Set<string>();

  return {
    begin(key: string, endpoint: string, params: unknown): KeyCheck {
      if (key.length > 255) throw idempotencyKeyTooLong();
      if (running.has(key)) throw idempotencyKeyInUse(key);
      const hash = paramsHash(params);
      let saved = table.get(key);
      if (saved && now() - saved.createdMs >= ttlMs) {
        table.delete(key);
        saved = undefined;
      }
      if (saved) {
        if (saved.endpoint !== endpoint) throw idempotencyEndpointMismatch(key, saved.endpoint, endpoint);
        if (saved.paramsHash !== hash) throw idempotencyKeyReused(key);
        return { kind: 'replay', saved };
      }
      running.add(key);
      // A key's lifetime counts from its first use.
      const firstUsedMs = now();
      return {
        kind: 'new',
        save(reply, requestId) {
          table.save(key, { endpoint, paramsHash: hash, status: reply.status, body: reply.body, requestId, createdMs: firstUsedMs });
          running.delete(key);
        },
        release() {
          running.delete(key);
        },
      };
    },

    /** Forgets expired keys (the ticker calls it now and then; `begin` checks expiry anyway). */
    prune(): void {
      table.prune(now() - ttlMs);
    },

    /** Forgets the requests in progress (POST /_sandbox/reset). */
    clear(): void {
      running.clear();
    },
  };
}

export type Idempotency = ReturnType<typeof createIdempotency>;

/** Parameters compared as data: the order the client wrote them in does not matter. */
function paramsHash(params: unknown): string {
  return new Bun.CryptoHasher('sha256').update(canonicalJson(params)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
