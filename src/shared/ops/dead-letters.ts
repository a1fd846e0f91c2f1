import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '../runtime/app-error.ts';
import { DEAD_LETTER_STREAMS, isDeadLetterStream, streamKey } from '../pipeline/topology.ts';
import type { Redis } from '../runtime/redis.ts';
import { DeadLetter, readDeadLetter } from '../streams/dead-letter.ts';
import { recordToFields } from '../streams/stream-id.ts';

/** A dead letter as the operations tools show it. */
export const DeadLetterEntry = Type.Composite([
  Type.Object({
    id: Type.String({ description: 'Its id in the dead-letter stream' }),
    deadLetterStream: Type.String(),
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

function parse(deadLetterStream: string, id: string, flat: string[]): DeadLetterEntry {
  return { id, deadLetterStream, ...readDeadLetter(flat) };
}

/**
 * Reading and repairing the dead-letter streams: shared by `bun run dlq`, the admin endpoints and
 * the operations page, so all three do exactly the same thing.
 */
export function createDeadLetters(redis: Redis, prefix: string) {
  const streams: string[] = DEAD_LETTER_STREAMS;
  const keyOf = (name: string) => {
    if (!isDeadLetterStream(name)) throw new UnknownDeadLetterStream(name);
    return streamKey(prefix, name);
  };

  async function list(stream?: string, count = 100): Promise<DeadLetterEntry[]> {
    const names = stream ? [stream] : streams;
    const lists = await Promise.all(
      names.map(async (name) => {
        const entries = (await redis.xrevrange(keyOf(name), '+', '-', 'COUNT', count)) as [string, string[]][];
        return entries.map(([id, flat]) => parse(name, id, flat));
      }),
    );
    return lists.flat().sort((a, b) => b.deadLetteredAt.localeCompare(a.deadLetteredAt));
  }

  async function show(id: string): Promise<DeadLetterEntry> {
    for (const name of streams) {
      const [entry] = (await redis.xrange(keyOf(name), id, id)) as [string, string[]][];
      if (entry) return parse(name, entry[0], entry[1]);
    }
    throw new DeadLetterNotFound(id);
  }

  /**
   * Puts the entry back on its original stream as a new entry, then removes it from the dead-letter
   * stream: only after the XADD succeeded, so a failure leaves it where it was.
   */
  async function replayOne(entry: DeadLetterEntry): Promise<string> {
    const newId = (await redis.xadd(entry.originalStream, '*', ...recordToFields(entry.fields))) as string;
    await redis.xdel(streamKey(prefix, entry.deadLetterStream), entry.id);
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
        return Number(await redis.xdel(streamKey(prefix, entry.deadLetterStream), entry.id));
      }
      let removed = 0;
      for (const name of target.stream ? [target.stream] : streams) {
        removed += await redis.xlen(keyOf(name));
        await redis.del(keyOf(name));
      }
      return removed;
    },
  };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;
