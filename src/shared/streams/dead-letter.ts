import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Redis } from './redis.ts';
import { MAX_REASON_CHARS, type RetryAttempt } from './retry-fields.ts';
import { fieldsToRecord, recordToFields } from './stream-id.ts';

/** One failed attempt of a dead-lettered entry, as the dead letter keeps it (and `bun run dlq` shows it). */
export const FailedAttempt = Type.Object({
  attempt: Type.Integer({ minimum: 1, description: 'Its number, the first delivery being 1' }),
  // No `format`: TypeBox checks only formats someone registered, and the CLI reads dead letters without Elysia.
  at: Type.String({ description: 'When it failed (ISO 8601, UTC)' }),
  reason: Type.String({ description: `Why, cut at ${MAX_REASON_CHARS} characters` }),
});
export type FailedAttempt = Static<typeof FailedAttempt>;
const FailedAttempts = Type.Array(FailedAttempt);

/** What a dead-letter entry carries, besides the original entry's own fields (as JSON in `fields`). */
export const DeadLetter = Type.Object({
  originalStream: Type.String({ description: 'The stream the entry came from' }),
  originalId: Type.String({ description: 'Its id there' }),
  group: Type.String(),
  consumer: Type.String(),
  error: Type.String({ description: 'Why it could not be processed' }),
  deliveries: Type.Integer({ description: 'How many times it was delivered before giving up' }),
  fields: Type.Record(Type.String(), Type.String(), { description: "The original entry's fields" }),
  attempts: Type.Optional(
    Type.Array(FailedAttempt, {
      description: 'Every failed attempt, oldest first, of an entry that went through a retry schedule; absent for one that never did, and on dead letters written before this field existed',
    }),
  ),
});
export type DeadLetter = Static<typeof DeadLetter>;

/** A retry schedule's history (retry-fields.ts: ms since the epoch) as a dead letter keeps it: numbered, ISO times. */
export function failedAttempts(history: readonly RetryAttempt[]): FailedAttempt[] {
  return history.map(({ at, reason }, i) => ({ attempt: i + 1, at: new Date(at).toISOString(), reason: reason.slice(0, MAX_REASON_CHARS) }));
}

/**
 * The `attempts` field read back. Absent (a dead letter from before the field, or of an entry never
 * retried) or not a list of attempts (only a hand edit makes one): undefined, and the `error` text,
 * which names every attempt in words too, is what is left to read.
 */
function readAttempts(text: string | undefined): FailedAttempt[] | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return Value.Check(FailedAttempts, parsed) ? parsed : undefined;
}

/** A dead-letter entry as written by deadLetter(), read back from its stream fields. */
export function readDeadLetter(flat: string[]): DeadLetter & { deadLetteredAt: string } {
  const entry = fieldsToRecord(flat);
  let fields: Record<string, string>;
  try {
    fields = JSON.parse(entry.fields ?? '{}');
  } catch {
    fields = { unparseable: entry.fields ?? '' };
  }
  const attempts = readAttempts(entry.attempts);
  return {
    originalStream: entry.originalStream ?? '',
    originalId: entry.originalId ?? '',
    group: entry.group ?? '',
    consumer: entry.consumer ?? '',
    error: entry.error ?? '',
    deliveries: Number(entry.deliveries ?? 0),
    deadLetteredAt: entry.deadLetteredAt ?? '',
    fields,
    ...(attempts ? { attempts } : {}),
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
    // A field of its own, not only words in `error` (which is cut at 2000 characters): tools read each attempt.
    ...(letter.attempts ? { attempts: JSON.stringify(letter.attempts) } : {}),
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
