import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { partitionKeys, ROUTES, STREAMS } from '../pipeline/topology.ts';
import type { Redis } from '../runtime/redis.ts';
import { retryBacklog } from '../streams/delayed-retries.ts';
import { fieldsToRecord } from '../streams/stream-id.ts';
import { DeliveryCount, deliveryCounts } from './delivery-counts.ts';

// The report's shapes, defined once: the CLI prints them, /ops/summary answers and documents them.
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ConsumerReport = Type.Object({ name: Type.String(), pending: Type.Integer(), idleMs: Type.Integer() });
export type ConsumerReport = Static<typeof ConsumerReport>;

export const RetryReport = Type.Object({
  waiting: Type.Integer({ description: "Entries waiting in the group's delayed set for their next attempt (retry schedule)" }),
  nextDueAt: Nullable(Type.String({ description: 'When the next of them comes back (ISO time)' })),
  oldestSince: Nullable(Type.String({ description: 'When the longest-waiting of them first failed (ISO time)' })),
});

export const GroupReport = Type.Object({
  name: Type.String(),
  retries: RetryReport,
  consumers: Type.Array(ConsumerReport),
  pending: Type.Integer(),
  lag: Nullable(Type.Integer({ description: 'Entries in the stream the group has not been delivered yet (null when Redis cannot tell)' })),
  lastDeliveredId: Type.String(),
  oldestPendingIdleMs: Nullable(Type.Integer()),
});
export type GroupReport = Static<typeof GroupReport>;

export const StreamReport = Type.Object({
  stream: Type.String(),
  /** Which partition of the stream this row is (null: the stream is not partitioned). */
  partition: Nullable(Type.Integer()),
  key: Type.String(),
  length: Type.Integer(),
  firstId: Nullable(Type.String()),
  lastId: Nullable(Type.String()),
  groups: Type.Array(GroupReport),
});
export type StreamReport = Static<typeof StreamReport>;

export const DeadLetterCount = Type.Object({ stream: Type.String(), partition: Nullable(Type.Integer()), key: Type.String(), length: Type.Integer() });

/** One route (a stream and one of its groups) summed over its partitions. */
export const StreamTotal = Type.Object({
  stream: Type.String(),
  group: Type.String(),
  partitions: Type.Integer(),
  length: Type.Integer(),
  pending: Type.Integer(),
  lag: Nullable(Type.Integer()),
  retrying: Type.Integer({ description: "Entries of the stream's group waiting for their next attempt" }),
  deadLetters: Type.Integer(),
});
export const OutboxReport = Type.Object({ unpublished: Type.Integer(), oldestUnpublishedAgeMs: Nullable(Type.Number()) });

export const PipelineReport = Type.Object({
  streams: Type.Array(StreamReport),
  totals: Type.Array(StreamTotal),
  deadLetters: Type.Array(DeadLetterCount),
  outbox: OutboxReport,
  deliveries: Type.Array(DeliveryCount, { description: 'Notifications not sent yet, or failed, per channel' }),
});
export type PipelineReport = Static<typeof PipelineReport>;

async function streamReport(redis: Redis, stream: string, partition: number | null, key: string): Promise<StreamReport> {
  const [length, first, last] = await Promise.all([
    redis.xlen(key),
    redis.xrange(key, '-', '+', 'COUNT', 1) as Promise<[string, string[]][]>,
    redis.xrevrange(key, '+', '-', 'COUNT', 1) as Promise<[string, string[]][]>,
  ]);
  let rawGroups: string[][] = [];
  try {
    rawGroups = (await redis.xinfo('GROUPS', key)) as string[][];
  } catch {
    // No such stream yet: no groups.
  }
  const groups = await Promise.all(
    rawGroups.map(async (raw) => {
      const info = fieldsToRecord(raw.map(String));
      const name = info.name!;
      const consumers = ((await redis.xinfo('CONSUMERS', key, name)) as string[][]).map((c) => {
        const consumer = fieldsToRecord(c.map(String));
        return { name: consumer.name!, pending: Number(consumer.pending), idleMs: Number(consumer.idle) };
      });
      const pending = Number(info.pending);
      const backlog = await retryBacklog(redis, { stream: key, group: name });
      const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
      let oldestPendingIdleMs: number | null = null;
      if (pending > 0) {
        const [oldest] = (await redis.xpending(key, name, '-', '+', 1)) as [string, string, number, number][];
        oldestPendingIdleMs = oldest ? Number(oldest[2]) : null;
      }
      return {
        name,
        retries: { waiting: backlog.waiting, nextDueAt: iso(backlog.nextDueAt), oldestSince: iso(backlog.oldestSince) },
        consumers,
        pending,
        lag: info.lag === undefined || info.lag === null || info.lag === '' ? null : Number(info.lag),
        lastDeliveredId: info['last-delivered-id'] ?? '0-0',
        oldestPendingIdleMs,
      };
    }),
  );
  return { stream, partition, key, length, firstId: first[0]?.[0] ?? null, lastId: last[0]?.[0] ?? null, groups };
}

/** Where the report reads the pipeline's live figures from. */
export interface PipelineSource {
  redis: Redis;
  db: Database;
  prefix: string;
  /** STREAM_PARTITIONS (default 1). */
  partitions?: number;
}

/** Everything `bun run streams` and the operations page show, read from Redis and PostgreSQL. */
export async function pipelineReport({ redis, db, prefix, partitions = 1 }: PipelineSource): Promise<PipelineReport> {
  const streams = await Promise.all(
    STREAMS.flatMap((stream) => partitionKeys(prefix, stream, partitions).map(({ partition, key }) => streamReport(redis, stream, partition, key))),
  );
  const deadLetters = await Promise.all(
    ROUTES.flatMap(({ deadLetterStream }) =>
      partitionKeys(prefix, deadLetterStream, partitions).map(async ({ partition, key }) => ({ stream: deadLetterStream, partition, key, length: await redis.xlen(key) })),
    ),
  );
  // A route whose group does not exist is not read in this deployment (no ORDER_WEBHOOK_URL): no total.
  const read = ROUTES.filter(({ stream, group }) => streams.some((row) => row.stream === stream && row.groups.some((g) => g.name === group)));
  const totals = read.map(({ stream, group, deadLetterStream }) => {
    const rows = streams.filter((row) => row.stream === stream);
    const groups = rows.map((row) => row.groups.find((g) => g.name === group));
    const lags = groups.map((g) => g?.lag ?? null);
    return {
      stream,
      group,
      partitions: rows.length,
      length: rows.reduce((sum, row) => sum + row.length, 0),
      pending: groups.reduce((sum, g) => sum + (g?.pending ?? 0), 0),
      lag: lags.some((lag) => lag === null) ? null : lags.reduce((sum: number, lag) => sum + lag!, 0),
      retrying: groups.reduce((sum, g) => sum + (g?.retries.waiting ?? 0), 0),
      deadLetters: deadLetters.filter((d) => d.stream === deadLetterStream).reduce((sum, d) => sum + d.length, 0),
    };
  });
  const [[outbox], deliveries] = await Promise.all([
    db.execute<{ unpublished: number; oldest_ms: number | null }>(sql`
      select count(*)::int as unpublished, (extract(epoch from now() - min(created_at)) * 1000)::float8 as oldest_ms
      from outbox where published_at is null`),
    deliveryCounts(db),
  ]);
  return {
    streams,
    totals,
    deadLetters,
    outbox: { unpublished: outbox?.unpublished ?? 0, oldestUnpublishedAgeMs: outbox?.oldest_ms ?? null },
    deliveries,
  };
}
