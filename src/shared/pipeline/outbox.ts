import { and, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import type { Database, Tx } from '../db/client.ts';
import { outbox } from '../db/schema.ts';
import { eventDefinitionOf, type EventBase, type EventDefinition } from './events.ts';
import { claimUnpublished } from './outbox-claim.ts';
import { keyForOrder } from './topology.ts';
import type { Logger } from '../runtime/log.ts';
import { startPeriodic, type Periodic } from '../runtime/periodic.ts';
import type { Redis } from '../runtime/redis.ts';
import { recordToFields } from '../streams/stream-id.ts';
import { withPipelineSpans, type CommandErrors } from '../tracing/redis-spans.ts';
import { DISABLED_TRACING, type Tracing } from '../tracing/tracing.ts';

/** Writes an event to the outbox inside the caller's transaction: it commits or rolls back with the state change. */
export async function addToOutbox<Event extends EventBase>(
  tx: Tx,
  definition: EventDefinition<Event>,
  event: Event,
  orderId: string,
): Promise<void> {
  await tx.insert(outbox).values({
    eventId: event.eventId,
    eventType: event.type,
    stream: definition.stream,
    orderId,
    event,
  });
}

export interface OutboxPublisherOptions {
  db: Database;
  /** A fail-fast connection (see createRedis): while Redis is away, publishing fails and rows wait. */
  redis: Redis;
  streamPrefix: string;
  /** STREAM_PARTITIONS: each event goes to its order's partition. */
  partitions?: number;
  batchSize?: number;
  /** With tracing on, each XADD is a span in its event's trace (see withPipelineSpans). */
  tracing?: Tracing;
}

/**
 * Publishes unpublished outbox rows to their streams, oldest first, and marks them published: per
 * batch one statement that claims and marks the rows (`UPDATE ... WHERE id IN (SELECT ... FOR UPDATE
 * SKIP LOCKED) RETURNING`, read through a plain index scan: see claimStatements), one pipelined XADD,
 * and the commit. The mark only becomes visible if the commit follows the XADDs, so a crash between
 * them leaves the rows unpublished (published again later: consumers are idempotent). SKIP LOCKED
 * lets several processes run this at once without publishing a row twice. Returns how many rows it
 * published.
 */
export async function publishPending({ db, redis, streamPrefix, partitions = 1, batchSize = 500, tracing = DISABLED_TRACING }: OutboxPublisherOptions): Promise<number> {
  let total = 0;
  for (;;) {
    const { published, claimed, error } = await db.transaction(async (tx) => {
      const claimedRows = await claimUnpublished(tx, batchSize);
      if (claimedRows.length === 0) return { published: 0, claimed: 0, error: undefined };
      // RETURNING comes in no particular order; a stream keeps the order events were written in.
      const rows = [...claimedRows].sort((a, b) => Number(a.id) - Number(b.id));
      // One pipeline per key: on a Redis Cluster a pipeline must stay within one slot, and each
      // partition keeps its events in the order they were written.
      const byKey = Map.groupBy(rows, (row) => keyForOrder(streamPrefix, row.stream, row.order_id, partitions));
      const outcomes = await Promise.all(
        [...byKey].map(async ([key, group]) => {
          // The one place an event becomes stream fields: through its type's own encoder.
          const entries = group.map(({ event }) => ({ fields: eventDefinitionOf(event.type).toFields(event) }));
          const errors = await withPipelineSpans(tracing, redis, 'XADD', entries, () => xaddEach(redis, key, entries));
          return group.map((row, i) => ({ id: Number(row.id), error: errors[i] }));
        }),
      );
      // A row whose XADD failed is put back, unpublished, for the next run (only on this failure path).
      const failures = outcomes.flat().filter((outcome) => outcome.error);
      const failed = failures.map((outcome) => outcome.id);
      if (failed.length > 0) await tx.update(outbox).set({ publishedAt: null }).where(inArray(outbox.id, failed));
      const failure = failures[0]?.error ?? undefined;
      return { published: rows.length - failed.length, claimed: rows.length, error: failure };
    });
    total += published;
    if (error) throw new Error(`published ${total}, then XADD failed: ${error.message}`, { cause: error });
    if (claimed < batchSize) return total;
  }
}

/** One pipelined XADD per entry to `key`; resolves with each entry's error (null: added), never rejects. */
async function xaddEach(redis: Redis, key: string, rows: readonly { fields: Record<string, string> }[]): Promise<CommandErrors> {
  const pipeline = redis.pipeline();
  for (const row of rows) pipeline.xadd(key, '*', ...recordToFields(row.fields));
  const results = await pipeline.exec().catch((error: Error) => rows.map(() => [error, null] as const));
  return rows.map((_, i) => (results?.[i] ? results[i]![0] : new Error('pipeline returned too few replies')));
}

/** Deletes published rows older than the retention period; returns how many. */
export async function purgePublished(db: Database, retentionMs: number): Promise<number> {
  const removed = await db
    .delete(outbox)
    .where(and(isNotNull(outbox.publishedAt), lt(outbox.publishedAt, sql`now() - make_interval(secs => ${retentionMs / 1000})`)))
    .returning({ id: outbox.id });
  return removed.length;
}

export interface OutboxRelay {
  /** Publish now (right after a commit) instead of waiting for the next tick. Never blocks the caller. */
  kick(): void;
  stop(): Promise<void>;
  status(): ReturnType<Periodic['status']>;
}

export interface OutboxRelayOptions extends OutboxPublisherOptions {
  log: Logger;
  /** How often to sweep for rows left unpublished (a crash after commit, Redis down). */
  intervalMs: number;
  retentionMs: number;
}

/** The relay loop each producing process runs: publish on kick and on every tick, purge old rows each minute. */
export function createOutboxRelay({ log, intervalMs, retentionMs, ...publisher }: OutboxRelayOptions): OutboxRelay {
  const relayLog = log.child({ component: 'outbox-relay' });
  const publishing = startPeriodic('outbox publish', intervalMs, () => publishPending(publisher), relayLog);
  const purging = startPeriodic(
    'outbox purge',
    60_000,
    async () => {
      const removed = await purgePublished(publisher.db, retentionMs);
      if (removed > 0) relayLog.debug({ removed }, 'purged published outbox rows');
    },
    relayLog,
  );
  return {
    kick: () => void publishing.runNow(),
    async stop() {
      await Promise.all([publishing.stop(), purging.stop()]);
    },
    status: () => publishing.status(),
  };
}
