import type { Database } from 'bun:sqlite';

/** The reply saved for an idempotency key, and what it was the reply to. */
export interface SavedReply {
  /** `POST /v1/payment_intents`: a key used on another endpoint is refused. */
  endpoint: string;
  paramsHash: string;
  status: number;
  body: string;
  requestId: string;
  createdMs: number;
}

export function createIdempotencyTable(db: Database) {
  const select = db.query<{ endpoint: string; params_hash: string; status: number; body: string; request_id: string; created_ms: number }, { key: string }>(
    'SELECT endpoint, params_hash, status, body, request_id, created_ms FROM idempotency_keys WHERE key = $key',
  );
  const upsert = db.query(
    `INSERT OR REPLACE INTO idempotency_keys (key, endpoint, params_hash, status, body, request_id, created_ms)
     VALUES ($key, $endpoint, $params_hash, $status, $body, $request_id, $created_ms)`,
  );
  const remove = db.query('DELETE FROM idempotency_keys WHERE key = $key');
  const prune = db.query('DELETE FROM idempotency_keys WHERE created_ms <= $before');
  return {
    get(key: string): SavedReply | undefined {
      const row = select.get({ key });
      if (!row) return undefined;
      return { endpoint: row.endpoint, paramsHash: row.params_hash, status: row.status, body: row.body, requestId: row.request_id, createdMs: row.created_ms };
    },
    save(key: string, reply: SavedReply): void {
      upsert.run({ key, endpoint: reply.endpoint, params_hash: reply.paramsHash, status: reply.status, body: reply.body, request_id: reply.requestId, created_ms: reply.createdMs });
    },
    delete(key: string): void {
      remove.run({ key });
    },
    /** Forgets keys first used at or before `beforeMs`. */
    prune(beforeMs: number): void {
      prune.run({ before: beforeMs });
    },
  };
}

export type IdempotencyTable = ReturnType<typeof createIdempotencyTable>;
