/**
 * Exponential backoff, one policy for every retry loop of the project: the stream runner after a
 * failed Redis call or probe, the Redis and PostgreSQL reconnects, the API's database retries and the
 * payment worker's gateway retries. A leaf (it imports nothing), so any folder may take it.
 *
 * The ceiling doubles each attempt from `baseMs` up to `maxMs`. `full` jitter draws the delay
 * anywhere below the ceiling, which spreads many clients retrying a recovering server (AWS's
 * "Exponential Backoff and Jitter"); `equal` jitter never waits less than half the ceiling, for a
 * single loop that must not spin.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  jitter?: 'full' | 'equal';
}

/** The delay before retry number `attempt` (1 after the first failure). `random` returns [0, 1). */
export function backoffDelay(attempt: number, { baseMs, maxMs, jitter = 'full' }: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  const floor = jitter === 'equal' ? ceiling / 2 : 0;
  return Math.floor(floor + random() * (ceiling - floor));
}
