import { Type, type Static } from '@sinclair/typebox';
import type { Redis } from './redis.ts';
import { fieldsToRecord, recordToFields } from './stream-id.ts';

/** What a dead-letter entry carries, besides the original entry's own fields (as JSON in `fields`). */
export const DeadLetter = Type.Object({
  originalStream: Type.String({ description: 'The stream the entry came from' }),
  originalId: Type.String({ description: 'Its id there' }),
  group: Type.String(),
  consumer: Type.String(),
  error: Type.String({ description: 'Why it could not be processed' }),
  deliveries: Type.Integer({ description: 'How many times it was delivered before giving up' }),
  fields: Type.Record(Type.String(), Type.String(), { description: "The original entry's fields" }),
});
export type DeadLetter = Static<typeof DeadLetter>;

/** A dead-letter entry as written by deadLetter(), read back from its stream fields. */
export function readDeadLetter(flat: string[]): DeadLetter & { deadLetteredAt: string } {
  const entry = fieldsToRecord(flat);
  let fields: Record<string, string>;
  try {
    fields = JSON.parse(entry.fields ?? '{}');
  } catch {
    fields = { unparseable: entry.fields ?? '' };
  }
  return {
    originalStream: entry.originalStream ?? '',
    originalId: entry.originalId ?? '',
    group: entry.group ?? '',
    consumer: entry.consumer ?? '',
    error: entry.error ?? '',
    deliveries: Number(entry.deliveries ?? 0),
    deadLetteredAt: entry.deadLetteredAt ?? '',
    fields,
  };
}

export interface DeadLetterTarget {
  redis: Redis;
  deadLetterStream: string;
  /** Approximate cap (XADD MAXLEN ~) so a flood of poison cannot fill Redis. */
  maxLen: number;
}

/**
 * Moves an entry to the dead-letter stream and acknowledges it in one MULTI/EXEC,
 * so it is never both dead-lettered and still pending, nor acked and lost.
 */
export async function deadLetter({ redis, deadLetterStream, maxLen }: DeadLetterTarget, letter: DeadLetter): Promise<string> {
  const entry: Record<string, string> = {
    originalStream: letter.originalStream,
    originalId: letter.originalId,
    group: letter.group,
    consumer: letter.consumer,
    error: letter.error.slice(0, 2000),
    deliveries: String(letter.deliveries),
    deadLetteredAt: new Date().toISOString(),
    fields: JSON.stringify(letter.fields),
  };
  const results = await redis
    .multi()
    .xadd(deadLetterStream, 'MAXLEN', '~', String(maxLen), '*', ...recordToFields(entry))
    .xack(letter.originalStream, letter.group, letter.originalId)
    .exec();
  const failed = results?.find(([err]) => err);
  if (!results || failed) throw failed?.[0] ?? new Error('dead-letter transaction was discarded');
  return String(results[0]![1]);
}
