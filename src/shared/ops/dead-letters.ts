import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '../runtime/app-error.ts';
import { DEAD_LETTER_STREAMS, isDeadLetterStream, partitionKeys, streamKey } from '../pipeline/topology.ts';
import type { Redis } from '../runtime/redis.ts';
import { DeadLetter, readDeadLetter } from '../streams/dead-letter.ts';
import { recordToFields } from '../streams/stream-id.ts';
import { replayedFields } from '../tracing/trace-context.ts';

/** A dead letter as the operations tools show it. */
export const DeadLetterEntry = Type.Composite([
  Type.Object({
    id: Type.String({ description: 'Its id in the dead-letter stream' }),
    deadLetterStream: Type.String(),
    partition: Type.Union([Type.Integer(), Type.Null()], { description: 'The partition of the dead-letter stream (null: not partitioned)' }),
    deadLetteredAt: Type.String(),
  }),
  DeadLetter,
]);
export type DeadLetterEntry = Static<typeof DeadLetterEntry>;

export class DeadLetterNotFound extends AppError {
  readonly code = 'dead_letter_not_found';
  constructor(id: string) {
    super(`No dead-lettered entry with id ${id}`);
  }
}

export class UnknownDeadLetterStream extends AppError {
  readonly code = 'unknown_dead_letter_stream';
  constructor(name: string) {
    super(`Unknown dead-letter stream ${JSON.stringify(name)}; expected one of ${DEAD_LETTER_STREAMS.join(', ')}`);
  }
}

function parse(deadLetterStream: string, partition: number | null, id: string, flat: string[]): DeadLetterEntry {
  return { id, deadLetterStream, partition, ...readDeadLetter(flat) };
}

/**
 * Reading and repairing the dead-letter streams: shared by `bun run dlq`, the admin endpoints and
 * the operations page, so all three do exactly the same thing.
 */
export function createDeadLetters(redis: Redis, prefix: string, partitions = 1) {
  const streams: string[] = DEAD_LETTER_STREAMS;
  /** A dead-letter stream's keys, one per partition. */
  const keysOf = (name: string) => {
    if (!isDeadLetterStream(name)) throw new UnknownDeadLetterStream(name);
    return partitionKeys(prefix, name, partitions).map(({ partition, key }) => ({ name, partition, key }));
  };
  const keyOfEntry = (entry: DeadLetterEntry) => streamKey(prefix, entry.deadLetterStream, entry.partition ?? undefined);

  async function list(stream?: string, count = 100): Promise<DeadLetterEntry[]> {
    const keys = (stream ? [stream] : streams).flatMap(keysOf);
    const lists = await Promise.all(
      keys.map(async ({ name, partition, key }) => {
        const entries = (await redis.xrevrange(key, '+', '-', 'COUNT', count)) as [string, string[]][];
        return entries.map(([id, flat]) => parse(name, partition, id, flat));
      }),
    );
    return lists.flat().sort((a, b) => b.deadLetteredAt.localeCompare(a.deadLetteredAt));
  }

  async function show(id: string): Promise<DeadLetterEntry> {
    for (const { name, partition, key } of streams.flatMap(keysOf)) {
      const [entry] = (await redis.xrange(key, id, id)) as [string, string[]][];
      if (entry) return parse(name, partition, entry[0], entry[1]);
    }
    throw new DeadLetterNotFound(id);
  }

  /**
   * Puts the entry back on its original stream (the very partition it came from) as a new entry,
   * then removes it from the dead-letter stream: only after the XADD succeeded, so a failure leaves
   * it where it was. Its trace context moves to `tracelink`: the replay's processing links to the
   * original trace, as a child of the replaying request's span when there is one.
   */
  async function replayOne(entry: DeadLetterEntry): Promise<string> {
    const newId = (await redis.xadd(entry.originalStream, '*', ...recordToFields(replayedFields(entry.fields)))) as string;
    await redis.xdel(keyOfEntry(entry), entry.id);
    return newId;
  }

  return {
    streams,
    list,
    show,
    async replay(target: { id: string } | { all: true; stream?: string }, { dryRun = false } = {}) {
      const entries = 'id' in target ? [await show(target.id)] : await list(target.stream, 100_000);
      const replayed: { id: string; originalStream: string; newId: string | null }[] = [];
      for (const entry of entries) {
        replayed.push({ id: entry.id, originalStream: entry.originalStream, newId: dryRun ? null : await replayOne(entry) });
      }
      return replayed;
    },
    async purge(target: { id: string } | { all: true; stream?: string }): Promise<number> {
      if ('id' in target) {
        const entry = await show(target.id);
        return Number(await redis.xdel(keyOfEntry(entry), entry.id));
      }
      let removed = 0;
      for (const { key } of (target.stream ? [target.stream] : streams).flatMap(keysOf)) {
        removed += await redis.xlen(key);
        await redis.del(key);
      }
      return removed;
    },
  };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;
