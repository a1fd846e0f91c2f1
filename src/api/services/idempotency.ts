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

/**
 * How long a claim lets its holder write, and when it counts as abandoned. Both follow from one bound,
 * the API's `statement_timeout` (DB_STATEMENT_TIMEOUT_MS): the order write commits nothing unless it
 * starts within `writeWindowMs` of the claim (checked by PostgreSQL, on its own clock, in the statement
 * itself, so a write that sat in a stalled network path arrives too late to count), and no statement
 * runs longer than the timeout. So no write of a holder can commit later than `writeWindowMs +
 * statementTimeoutMs` after its claim; a claim with nothing linked after that (plus a second for the
 * commit itself) belongs to a request that is gone, and another may take the key over.
 */
export interface KeyTiming {
  writeWindowMs: number;
  abandonedAfterMs: number;
}

export function keyTiming(statementTimeoutMs: number): KeyTiming {
  const writeWindowMs = statementTimeoutMs;
  return { writeWindowMs, abandonedAfterMs: writeWindowMs + statementTimeoutMs + 1000 };
}

export interface IdempotencyOptions extends KeyTiming {
  key: string;
  fingerprint: string;
  /**
   * The fencing token: the id of the order this request will write, new for every request. A claim
   * (first or takeover) stores it; the write, the link, the completion and the release each take
   * effect only while the key still holds it, in the same statement, so a request that lost its key
   * to a takeover changes nothing. A retry of the same request knows its own claim by it.
   */
  holder: string;
  ttlHours: number;
  /** How long to wait for a concurrent request holding the same key before answering 409. */
  waitMs: number;
}

const POLL_MS = 25;

export type KeyClaim<Body> =
  /** This request holds the key: it goes on to write the order (`linked`: its earlier try already did). */
  | { kind: 'owned'; linked: boolean }
  /** A response is stored for this key and this request body: answer it again. */
  | { kind: 'replay'; status: number; body: Body }
  /** Another request wrote the key's order and has not stored the response (it died, or is late): answer from the order. */
  | { kind: 'orphaned'; orderId: string };

interface KeyRow {
  request_fingerprint: string;
  response_status: number | null;
  response_body: unknown;
  order_id: string | null;
  locked_by: string | null;
  in_window: boolean;
  abandoned: boolean;
}

/**
 * Claims an Idempotency-Key, the key row itself being the lock (Stripe's design): one INSERT in the
 * usual case. When the key exists, a stored response is replayed (or refused for another body), and
 * an in-progress one is waited for up to `waitMs`, then 409. An expired key, or one abandoned before
 * its request wrote anything, is taken over in the same statement, with this request's token.
 *
 * This request's own claim (a retry after a lost reply) is recognised, never re-made: re-making it
 * would unlink the order an earlier try of this request may have written meanwhile.
 */
export async function claimIdempotencyKey<Body>(
  pg: Sql,
  { key, fingerprint, holder, ttlHours, waitMs, writeWindowMs, abandonedAfterMs }: IdempotencyOptions,
  { now = Date.now, sleep = Bun.sleep }: { now?: () => number; sleep?: (ms: number) => Promise<unknown> } = {},
): Promise<KeyClaim<Body>> {
  const deadline = now() + waitMs;
  for (;;) {
    const [claimed] = await pg`
      insert into idempotency_keys (key, request_fingerprint, locked_at, locked_by) values (${key}, ${fingerprint}, now(), ${holder})
      on conflict (key) do update
        set request_fingerprint = excluded.request_fingerprint, locked_at = now(), locked_by = excluded.locked_by, created_at = now(),
            response_status = null, response_body = null, order_id = null
        where idempotency_keys.created_at < now() - make_interval(hours => ${ttlHours})
           or (idempotency_keys.response_status is null and idempotency_keys.order_id is null
               and idempotency_keys.locked_at < now() - make_interval(secs => ${abandonedAfterMs / 1000}))
      returning 1`;
    if (claimed) return { kind: 'owned', linked: false };
    const [row] = await pg<KeyRow[]>`
      select request_fingerprint, response_status, response_body, order_id, locked_by,
             locked_at > now() - make_interval(secs => ${writeWindowMs / 1000}) as in_window,
             locked_at < now() - make_interval(secs => ${abandonedAfterMs / 1000}) as abandoned
      from idempotency_keys where key = ${key}`;
    // Gone between the two statements (purged, or released by a failed request): claim it again.
    if (!row) continue;
    if (row.request_fingerprint !== fingerprint) throw new IdempotencyKeyReused();
    if (row.response_status !== null) return { kind: 'replay', status: row.response_status, body: row.response_body as Body };
    if (row.locked_by === holder) {
      if (row.order_id !== null) return { kind: 'owned', linked: true };
      // Still ours and still open for our write; past the window our write can no longer commit, and
      // the key waits out the abandonment like any other.
      if (row.in_window) return { kind: 'owned', linked: false };
    } else if (row.order_id !== null && (row.abandoned || now() >= deadline)) {
      // Its order is committed; only the stored answer is missing. Waiting longer cannot change the answer.
      return { kind: 'orphaned', orderId: row.order_id };
    }
    if (now() >= deadline) throw new IdempotencyKeyInProgress();
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - now())));
  }
}

/**
 * Stores the response for the key's order; from now on it is replayed. Only for the order linked to the
 * key, and only once: a late request never overwrites the answer another client was given. Returns the
 * stored response when one was already there.
 */
export async function completeIdempotencyKey<Body>(pg: Sql, key: string, orderId: string, status: number, body: Body): Promise<{ status: number; body: Body }> {
  const [row] = await pg<{ response_status: number; response_body: Body; stored: boolean }[]>`
    with stored as (
      update idempotency_keys set response_status = ${status}, response_body = ${JSON.stringify(body)}::jsonb, locked_at = null
      where key = ${key} and order_id = ${orderId} and response_status is null
      returning response_status, response_body
    )
    select response_status, response_body, true as stored from stored
    union all
    select response_status, response_body, false from idempotency_keys where key = ${key} and order_id = ${orderId} and response_status is not null`;
  return row && !row.stored ? { status: row.response_status, body: row.response_body } : { status, body };
}

/** A request that failed (a 4xx) lets go of its key, so a corrected retry can use it; only while the key is still its own. */
export async function releaseIdempotencyKey(pg: Sql, key: string, holder: string): Promise<void> {
  await pg`delete from idempotency_keys where key = ${key} and locked_by = ${holder} and order_id is null and response_status is null`;
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
