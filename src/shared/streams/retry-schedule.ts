/**
 * When a failed entry comes back: a schedule of delays (a setting such as
 * PAYMENT_RETRY_SCHEDULE_MS=1000,5000,30000,120000,600000), one step per failed attempt, jittered so
 * that entries failing together (a provider outage) do not all come back in the same millisecond.
 * Pure: no clock, no Redis; `random` is passed in so tests can drive it.
 *
 * Attempts count from 1: after attempt k fails, the entry waits `schedule[k - 1]` (jittered) before
 * attempt k + 1. A schedule of n delays therefore allows n retries, n + 1 attempts in all; when
 * attempt n + 1 fails there is no step left and the caller dead-letters the entry.
 */

/** How far a step may move either way, as a fraction of it: 0.2 spreads a 1000 ms step over 800..1200 ms. */
export const DEFAULT_JITTER = 0.2;

/**
 * Reads a schedule setting: comma-separated positive whole milliseconds, spaces allowed around each.
 * Throws an Error naming the first bad item; the config loader adds the variable's name.
 */
export function parseSchedule(text: string): number[] {
  if (text.trim() === '') throw new Error('the retry schedule is empty: give at least one delay in milliseconds, e.g. 1000,5000,30000');
  return text.split(',').map((raw, index) => {
    const item = raw.trim();
    const where = `item ${index + 1} of "${text}"`;
    if (item === '') throw new Error(`the retry schedule has an empty ${where} (a stray comma?)`);
    if (!/^\d+$/.test(item)) throw new Error(`the retry schedule's ${where} is "${item}", not a whole number of milliseconds`);
    const ms = Number(item);
    if (ms <= 0) throw new Error(`the retry schedule's ${where} is 0: every delay must be at least 1 ms`);
    if (!Number.isSafeInteger(ms)) throw new Error(`the retry schedule's ${where} is too large`);
    return ms;
  });
}

export interface RetryDelayInput {
  /** Attempts that have failed so far, the one that just failed included (1 after the first failure). */
  attempt: number;
  schedule: readonly number[];
  /** What the other side asked for (an HTTP Retry-After, as milliseconds from now); wins when longer. */
  retryAfterMs?: number;
  /** Fraction either way; DEFAULT_JITTER when absent. */
  jitter?: number;
  /** Returns [0, 1), like Math.random. */
  random: () => number;
}

/** The bounds a step's jittered delay stays within (before Retry-After), as whole milliseconds. */
export function jitterBounds(stepMs: number, jitter = DEFAULT_JITTER): { min: number; max: number } {
  return { min: Math.max(0, Math.floor(stepMs * (1 - jitter))), max: Math.ceil(stepMs * (1 + jitter)) };
}

/**
 * The delay in milliseconds before attempt `attempt + 1`, or undefined when the schedule is used up
 * (dead-letter). A Retry-After longer than the jittered step replaces it: the other side knows when
 * it can take the call again, and asking sooner would only be refused. A shorter one is ignored, so a
 * provider saying "1 s" cannot make a schedule spin faster than its owner chose.
 */
export function retryDelay({ attempt, schedule, retryAfterMs, jitter = DEFAULT_JITTER, random }: RetryDelayInput): number | undefined {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a whole number from 1, got ${attempt}`);
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`jitter must be a fraction from 0 to 1, got ${jitter}`);
  const step = schedule[attempt - 1];
  if (step === undefined) return undefined;
  const { min, max } = jitterBounds(step, jitter);
  // Rounded, then clamped: random() close to 1 must not round past the bound the caller was promised.
  const jittered = Math.min(max, Math.max(min, Math.round(step * (1 - jitter + 2 * jitter * random()))));
  // NaN, infinite or negative Retry-After values are ignored rather than trusted to park forever.
  const asked = retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? Math.ceil(retryAfterMs) : 0;
  return Math.max(jittered, asked);
}
