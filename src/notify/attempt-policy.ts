import { DEFAULT_JITTER, jitterBounds } from '../shared/streams/retry-schedule.ts';
import type { AttemptResult } from './channel.ts';

/**
 * How long past its scheduled step a waiting delivery may still be due back: the retry mover polls
 * every second, and a busy consumer takes a while to read it. The reconciler waits this much longer.
 */
export const RETRY_HOLD_MARGIN_MS = 10_000;

/** What to record and to tell the consumer after one attempt. Pure: no clock, no database. */
export type AttemptDecision =
  | { record: 'sent' }
  /** Wait in Redis for the schedule's next step; the reconciler leaves the delivery alone `holdMs`. */
  | { record: 'deferred'; holdMs: number; retryAfterMs?: number }
  /** `refused`: the other side said never (dead-letter now); `exhausted`: the schedule is spent (the consumer dead-letters it with every attempt's reason). */
  | { record: 'failed'; because: 'refused' | 'exhausted' };

/**
 * `attempt` counts the attempts of this entry on the schedule, from 1 (the consumer's MessageMeta.attempt):
 * after attempt k is deferred the entry waits `schedule[k - 1]`, and after attempt `schedule.length + 1`
 * there is no step left.
 */
export function decideAttempt(result: AttemptResult, attempt: number, schedule: readonly number[]): AttemptDecision {
  if (result.kind === 'sent') return { record: 'sent' };
  if (result.kind === 'refused') return { record: 'failed', because: 'refused' };
  const step = schedule[attempt - 1];
  if (step === undefined) return { record: 'failed', because: 'exhausted' };
  const longest = Math.max(jitterBounds(step, DEFAULT_JITTER).max, result.retryAfterMs ?? 0);
  return { record: 'deferred', holdMs: longest + RETRY_HOLD_MARGIN_MS, ...(result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs }) };
}
