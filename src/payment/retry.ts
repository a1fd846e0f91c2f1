import { backoffDelay } from '../shared/backoff/backoff.ts';

/**
 * Retry policy for transient gateway errors, hand-written like the breaker: exponential backoff
 * with full jitter (a random delay between 0 and base * 2^(attempt-1), capped), which spreads
 * retries from many workers instead of having them hit a recovering gateway in lockstep.
 */
export interface RetryOptions {
  /** Calls in total, the first one included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Delay before attempt `attempt + 1`, after `attempt` failed (attempt counts from 1). `random` returns [0, 1). */
export function nextDelay(attempt: number, { baseDelayMs, maxDelayMs }: RetryOptions, random: () => number = Math.random): number {
  return backoffDelay(attempt, { baseMs: baseDelayMs, maxMs: maxDelayMs, jitter: 'full' }, random);
}

/** Is there an attempt left after `attempt` failed? */
export function canRetry(attempt: number, { maxAttempts }: RetryOptions): boolean {
  return attempt < maxAttempts;
}
