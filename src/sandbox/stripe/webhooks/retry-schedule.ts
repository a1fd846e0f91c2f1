/**
 * When a failed delivery is tried again: `scheduleMs[n]` after its (n+1)-th failure; after the last
 * entry it is given up (undefined). Stripe retries for days with growing gaps; the schedule is a
 * setting so tests can make it short.
 */
export function retryDelayMs(failuresSoFar: number, scheduleMs: readonly number[]): number | undefined {
  return scheduleMs[failuresSoFar - 1];
}
