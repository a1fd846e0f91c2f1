import { createHash } from 'node:crypto';
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../shared/db/client.ts';
import { idempotencyKeys } from '../../shared/db/schema.ts';
import { IdempotencyKeyInProgress, IdempotencyKeyReused, InvalidIdempotencyKey } from '../errors/domain.ts';
import { errorCode } from '../../shared/db/connection-error.ts';

// Visible ASCII only: the key is echoed into logs and compared byte for byte.
const KEY_PATTERN = /^[\x21-\x7e]+$/;
export const MAX_KEY_LENGTH = 255;

// First half of the two-int advisory lock key, so our locks cannot collide with anyone else's.
const LOCK_NAMESPACE = 7_240_002;

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
  ttlHours: number;
  /** How long to wait for a concurrent request holding the same key before answering 409. */
  waitMs: number;
}

/**
 * Runs `execute` inside `tx` at most once per key (Stripe / IETF Idempotency-Key semantics).
 *
 * A transaction-scoped advisory lock on the key serialises requests that share it: the second
 * one waits (up to `waitMs`) for the first to commit, then finds its stored response and replays it.
 * Only successful responses are stored, in the same transaction as the work they describe, so a
 * failed request leaves the key free for a corrected retry.
 */
export async function runIdempotent<Body>(
  tx: Tx,
  options: IdempotencyOptions,
  execute: () => Promise<{ status: number; body: Body; orderId: string }>,
): Promise<IdempotentResponse<Body>> {
  const waitMs = Math.max(1, Math.floor(options.waitMs));
  await tx.execute(sql.raw(`set local lock_timeout = ${waitMs}`));
  await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_NAMESPACE}, hashtext(${options.key}))`);
  await tx.execute(sql`set local lock_timeout to default`);

  const [stored] = await tx
    .select()
    .from(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.key, options.key),
        sql`${idempotencyKeys.createdAt} > now() - make_interval(hours => ${options.ttlHours})`,
      ),
    );
  if (stored) {
    if (stored.requestFingerprint !== options.fingerprint) throw new IdempotencyKeyReused();
    return { status: stored.responseStatus, body: stored.responseBody as Body, replayed: true };
  }

  const result = await execute();
  await tx
    .insert(idempotencyKeys)
    .values({
      key: options.key,
      requestFingerprint: options.fingerprint,
      responseStatus: result.status,
      responseBody: result.body,
      orderId: result.orderId,
    })
    // An expired row the purge has not removed yet is simply replaced.
    .onConflictDoUpdate({
      target: idempotencyKeys.key,
      set: {
        requestFingerprint: options.fingerprint,
        responseStatus: result.status,
        responseBody: result.body,
        orderId: result.orderId,
        createdAt: sql`now()`,
      },
    });
  return { status: result.status, body: result.body, replayed: false };
}

/** Turns "gave up waiting for the lock" (55P03 lock_not_available) into the documented 409. */
export function rethrowLockTimeout(error: unknown): never {
  if (errorCode(error) === '55P03') throw new IdempotencyKeyInProgress();
  throw error;
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
