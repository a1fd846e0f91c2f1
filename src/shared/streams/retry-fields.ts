import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { PoisonMessage } from './poison-message.ts';

/**
 * The fields a delayed retry carries when it comes back to its stream, beside the entry's own: which
 * group it is for (every group of the stream sees it; the others acknowledge and skip it), how many
 * attempts have failed, when the first did, the id the entry first had, and every failure's reason,
 * so an entry dead-lettered at the end of its schedule says why each attempt failed.
 */
export const RETRY_FIELD_PREFIX = 'x-retry-';

export const RETRY_FIELDS = {
  group: 'x-retry-group',
  attempt: 'x-retry-attempt',
  firstFailedAt: 'x-retry-first-failed-at',
  originalId: 'x-retry-original-id',
  history: 'x-retry-history',
  /** Set instead of the others when a waiting member could not be read back (see delayed-retries.ts). */
  unreadable: 'x-retry-unreadable',
} as const;

export const RetryAttempt = Type.Object({
  at: Type.Number({ description: 'When the attempt failed, ms since the epoch' }),
  reason: Type.String(),
});
export type RetryAttempt = Static<typeof RetryAttempt>;
const History = Type.Array(RetryAttempt);

export interface RetryInfo {
  group: string;
  /** Attempts failed so far (1 after the first failure). */
  attempt: number;
  firstFailedAt: number;
  /** The entry's id when it was first published; each retry comes back under a new id. */
  originalId: string;
  history: RetryAttempt[];
}

/** A reason longer than this is cut: a stack trace per attempt would bloat every retry. */
export const MAX_REASON_CHARS = 500;

export function retryFields(info: RetryInfo): Record<string, string> {
  return {
    [RETRY_FIELDS.group]: info.group,
    [RETRY_FIELDS.attempt]: String(info.attempt),
    [RETRY_FIELDS.firstFailedAt]: String(info.firstFailedAt),
    [RETRY_FIELDS.originalId]: info.originalId,
    [RETRY_FIELDS.history]: JSON.stringify(info.history.map(({ at, reason }) => ({ at, reason: reason.slice(0, MAX_REASON_CHARS) }))),
  };
}

/**
 * Splits an entry's fields into its retry metadata (undefined on a first delivery) and its own
 * fields, which the consumer decodes as if the entry had never been retried. Retry fields that do
 * not read back (written by hand, or a member the mover could not decode) are a PoisonMessage: no
 * retry can make them readable, and the dead-letter stream keeps them for a person to look at.
 */
export function readRetryFields(fields: Record<string, string>): { retry: RetryInfo | undefined; fields: Record<string, string> } {
  let own: Record<string, string> | undefined;
  for (const name in fields) {
    if (name.startsWith(RETRY_FIELD_PREFIX)) {
      own = {};
      break;
    }
  }
  // The common case, a first delivery: no copy.
  if (!own) return { retry: undefined, fields };
  for (const [name, value] of Object.entries(fields)) if (!name.startsWith(RETRY_FIELD_PREFIX)) own[name] = value;
  return { retry: parseRetry(fields), fields: own };
}

function parseRetry(fields: Record<string, string>): RetryInfo {
  const unreadable = fields[RETRY_FIELDS.unreadable];
  if (unreadable !== undefined) throw new PoisonMessage(`a delayed retry could not be read back: ${unreadable.slice(0, MAX_REASON_CHARS)}`);
  const group = fields[RETRY_FIELDS.group];
  const attempt = Number(fields[RETRY_FIELDS.attempt]);
  const firstFailedAt = Number(fields[RETRY_FIELDS.firstFailedAt]);
  const originalId = fields[RETRY_FIELDS.originalId];
  if (!group) throw new PoisonMessage(`retry fields without ${RETRY_FIELDS.group}`);
  if (!Number.isInteger(attempt) || attempt < 1) throw new PoisonMessage(`${RETRY_FIELDS.attempt} is "${fields[RETRY_FIELDS.attempt]}", not an attempt count`);
  if (!Number.isFinite(firstFailedAt)) throw new PoisonMessage(`${RETRY_FIELDS.firstFailedAt} is "${fields[RETRY_FIELDS.firstFailedAt]}", not a time`);
  if (!originalId) throw new PoisonMessage(`retry fields without ${RETRY_FIELDS.originalId}`);
  let history: unknown;
  try {
    history = JSON.parse(fields[RETRY_FIELDS.history] ?? '');
  } catch (error) {
    throw new PoisonMessage(`${RETRY_FIELDS.history} is not JSON`, { cause: error });
  }
  if (!Value.Check(History, history)) throw new PoisonMessage(`${RETRY_FIELDS.history} is not a list of { at, reason }`);
  return { group, attempt, firstFailedAt, originalId, history };
}
