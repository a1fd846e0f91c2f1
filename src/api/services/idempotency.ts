import { createHash } from 'node:crypto';
import { inArray, lt, sql } from 'drizzle-orm';
import type { Sql } from 'postgres';
import type { Database } from '../../shared/db/client.ts';
import { idempotencyKeys } from '../../shared/db/schema.ts';
import { IdempotencyKeyInProgress, IdempotencyKeyReused, InvalidIdempotencyKey } from '../errors/domain.ts';

// Visible ASCII only: the key is echoed into logs and compared byte for byte.
const KEY_PATTERN = /^[\x21-\x7e]+$/;
export const MAX_KEY_LENGTH = 255;

/** Validates the Idempotency-Key header; undefined when the client sent none. */
export function parseIdempotencyKey(raw: string | undefined | null): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (raw.length === 0 || raw.length > MAX_KEY_LENGTH) {
    throw new InvalidIdempotencyKey(`Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters, got ${raw.length}`);
  }
  if (!KEY_PATTERN.test(raw)) throw new InvalidIdempotencyKey('Idempotency-Key may only contain visible ASCII characters');
  return raw;
}

/** Stable digest of a (normalised) request, to tell "same request again" from "key reused for another request". */
export function fingerprintOf(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}

export interface IdempotentResponse<Body> {
  status: number;
  body: Body;
  /** True when this is a stored response replayed for a repeated key. */
  replayed: boolean;
}

export interface IdempotencyOptions {
  key: string;
  fingerprint: string;
  /** Who claims: the id of the order this request will write. A retry after a lost reply knows its own claim by it. */
  holder: string;
  ttlHours: number;
  /** How long to wait for a concurrent request holding the same key before answering 409. */
  waitMs: number;
}

/**
 * A key still in progress this long after it was claimed, with no order linked, belongs to a request
 * that died: longer than any request can live (statement_timeout 30 s, plus the retry budget).
 */
export const KEY_ABANDONED_AFTER_MS = 60_000;
const POLL_MS = 25;

export type KeyClaim<Body> =
  /** This request holds the key now: it goes on to write the order. */
  | { kind: 'owned' }
  /** A response is stored for this key and this request body: answer it again. */
  | { kind: 'replay'; status: number; body: Body }
  /** The key's earlier request wrote its order but died before storing the response. */
  | { kind: 'orphaned'; orderId: string };

interface KeyRow {
  request_fingerprint: string;
  response_status: number | null;
  response_body: unknown;
  order_id: string | null;
  abandoned: boolean;
}

/**
 * Claims an Idempotency-Key, the key row itself being the lock (Stripe's design): one INSERT in the
 * usual case. When the key exists, a stored response is replayed (or refused for another body), and
 * an in-progress one is waited for up to `waitMs`, then 409. An expired key, one abandoned before its
 * request wrote anything, or this request's own claim (its reply lost), is taken in the same statement.
 */
export async function claimIdempotencyKey<Body>(
  pg: Sql,
  { key, fingerprint, holder, ttlHours, waitMs }: IdempotencyOptions,
  { now = Date.now, sleep = Bun.sleep }: { now?: () => number; sleep?: (ms: number) => Promise<unknown> } = {},
): Promise<KeyClaim<Body>> {
  const deadline = now() + waitMs;
  for (;;) {
    const [claimed] = await pg`
      insert into idempotency_keys (key, request_fingerprint, locked_at, locked_by) values (${key}, ${fingerprint}, now(), ${holder})
      on conflict (key) do update
        set request_fingerprint = excluded.request_fingerprint, locked_at = now(), locked_by = excluded.locked_by, created_at = now(),
            response_status = null, response_body = null, order_id = null
        where idempotency_keys.locked_by = excluded.locked_by
           or idempotency_keys.created_at < now() - make_interval(hours => ${ttlHours})
           or (idempotency_keys.response_status is null and idempotency_keys.order_id is null
               and idempotency_keys.locked_at < now() - make_interval(secs => ${KEY_ABANDONED_AFTER_MS / 1000}))
      returning 1`;
    if (claimed) return { kind: 'owned' };
    const [row] = await pg<KeyRow[]>`
      select request_fingerprint, response_status, response_body, order_id,
             locked_at < now() - make_interval(secs => ${KEY_ABANDONED_AFTER_MS / 1000}) as abandoned
      from idempotency_keys where key = ${key}`;
    // Gone between the two statements (purged, or released by a failed request): claim it again.
    if (!row) continue;
    if (row.request_fingerprint !== fingerprint) throw new IdempotencyKeyReused();
    if (row.response_status !== null) return { kind: 'replay', status: row.response_status, body: row.response_body as Body };
    if (row.order_id !== null && row.abandoned) return { kind: 'orphaned', orderId: row.order_id };
    if (now() >= deadline) throw new IdempotencyKeyInProgress();
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - now())));
  }
}

/** Stores the response of the request that holds the key; from now on it is replayed. */
export async function completeIdempotencyKey(pg: Sql, key: string, orderId: string, status: number, body: unknown): Promise<void> {
  await pg`update idempotency_keys set response_status = ${status}, response_body = ${JSON.stringify(body)}::jsonb, locked_at = null
            where key = ${key} and order_id = ${orderId}`;
}

/** A request that failed (a 4xx) lets go of its key, so a corrected retry can use it. */
export async function releaseIdempotencyKey(pg: Sql, key: string): Promise<void> {
  await pg`delete from idempotency_keys where key = ${key} and order_id is null and response_status is null`;
}

export interface PurgeOptions {
  /** Keys deleted per statement. */
  batchSize?: number;
  /** Told how many keys each statement deleted. */
  onBatch?: (removed: number) => void;
}

/**
 * Deletes stored responses older than the retention period, `batchSize` keys per statement until
 * none is left; returns how many it removed. Batches keep each statement's locks, WAL burst and
 * duration small, so a backlog (an API that was down for days) never becomes one huge DELETE that
 * stalls the inserts of `POST /orders`. SKIP LOCKED leaves an expired key that a request is reusing
 * right now (its upsert holds the row) alone, and lets several API instances purge side by side.
 */
export async function purgeExpiredIdempotencyKeys(db: Database, ttlHours: number, { batchSize = 1000, onBatch }: PurgeOptions = {}): Promise<number> {
  let total = 0;
  for (;;) {
    const expired = db
      .select({ key: idempotencyKeys.key })
      .from(idempotencyKeys)
      .where(lt(idempotencyKeys.createdAt, sql`now() - make_interval(hours => ${ttlHours})`))
      .limit(batchSize)
      .for('update', { skipLocked: true });
    const removed = (await db.delete(idempotencyKeys).where(inArray(idempotencyKeys.key, expired)).returning({ key: idempotencyKeys.key })).length;
    onBatch?.(removed);
    total += removed;
    if (removed < batchSize) return total;
  }
}
