import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { ROUTES, streamKey } from '../pipeline/topology.ts';
import type { Redis } from '../runtime/redis.ts';
import { fieldsToRecord } from '../streams/stream-id.ts';

// The report's shapes, defined once: the CLI prints them, /ops/summary answers and documents them.
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ConsumerReport = Type.Object({ name: Type.String(), pending: Type.Integer(), idleMs: Type.Integer() });
export type ConsumerReport = Static<typeof ConsumerReport>;

export const GroupReport = Type.Object({
  name: Type.String(),
  consumers: Type.Array(ConsumerReport),
  pending: Type.Integer(),
  lag: Nullable(Type.Integer({ description: 'Entries in the stream the group has not been delivered yet (null when Redis cannot tell)' })),
  lastDeliveredId: Type.String(),
  oldestPendingIdleMs: Nullable(Type.Integer()),
});
export type GroupReport = Static<typeof GroupReport>;

export const StreamReport = Type.Object({
  stream: Type.String(),
  key: Type.String(),
  length: Type.Integer(),
  firstId: Nullable(Type.String()),
  lastId: Nullable(Type.String()),
  groups: Type.Array(GroupReport),
});
export type StreamReport = Static<typeof StreamReport>;

export const DeadLetterCount = Type.Object({ stream: Type.String(), key: Type.String(), length: Type.Integer() });
export const OutboxReport = Type.Object({ unpublished: Type.Integer(), oldestUnpublishedAgeMs: Nullable(Type.Number()) });

export const PipelineReport = Type.Object({
  streams: Type.Array(StreamReport),
  deadLetters: Type.Array(DeadLetterCount),
  outbox: OutboxReport,
});
export type PipelineReport = Static<typeof PipelineReport>;

async function streamReport(redis: Redis, prefix: string, stream: string): Promise<StreamReport> {
  const key = streamKey(prefix, stream);
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
      let oldestPendingIdleMs: number | null = null;
      if (pending > 0) {
        const [oldest] = (await redis.xpending(key, name, '-', '+', 1)) as [string, string, number, number][];
        oldestPendingIdleMs = oldest ? Number(oldest[2]) : null;
      }
      return {
        name,
        consumers,
        pending,
        lag: info.lag === undefined || info.lag === null || info.lag === '' ? null : Number(info.lag),
        lastDeliveredId: info['last-delivered-id'] ?? '0-0',
        oldestPendingIdleMs,
      };
    }),
  );
  return { stream, key, length, firstId: first[0]?.[0] ?? null, lastId: last[0]?.[0] ?? null, groups };
}

/** Where the report reads the pipeline's live figures from. */
export interface PipelineSource {
  redis: Redis;
  db: Database;
  prefix: string;
}

/** Everything `bun run streams` and the operations page show, read from Redis and PostgreSQL. */
export async function pipelineReport({ redis, db, prefix }: PipelineSource): Promise<PipelineReport> {
  const streams = await Promise.all(ROUTES.map(({ stream }) => streamReport(redis, prefix, stream)));
  const deadLetters = await Promise.all(
    ROUTES.map(async ({ deadLetterStream }) => ({ stream: deadLetterStream, key: streamKey(prefix, deadLetterStream), length: await redis.xlen(streamKey(prefix, deadLetterStream)) })),
  );
  const [outbox] = await db.execute<{ unpublished: number; oldest_ms: number | null }>(sql`
    select count(*)::int as unpublished, (extract(epoch from now() - min(created_at)) * 1000)::float8 as oldest_ms
    from outbox where published_at is null`);
  return {
    streams,
    deadLetters,
    outbox: { unpublished: outbox?.unpublished ?? 0, oldestUnpublishedAgeMs: outbox?.oldest_ms ?? null },
  };
}
