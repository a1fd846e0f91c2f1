/**
 * The Generic Cell Rate Algorithm: a rate limit kept as one number, the theoretical arrival time
 * (TAT), the time at which the limiter would be empty again if nothing more were admitted. Each
 * admission pushes TAT one emission interval T = 1/rate further; a request is admitted while TAT is
 * at most `burst` intervals ahead of now. Over any window of W seconds this admits at most
 * burst + rate * W requests, and a client that retries when told admits exactly that many.
 *
 * Pure: the same arithmetic runs inside one Redis script in rate-limiter.ts, where every replica
 * shares the one TAT and Redis's clock. Times are whole microseconds (Redis TIME's resolution, and
 * exact in a double until the year 2255): an epoch time in fractional milliseconds has only a
 * quarter-microsecond of precision, enough for a limiter and a client to disagree on "now".
 */

export interface GcraLimits {
  /** Requests per second, averaged; may be fractional (0.5 = one every two seconds). */
  ratePerS: number;
  /** Requests that may go at once after a quiet spell; at least 1. */
  burst: number;
}

export interface GcraState {
  /** Theoretical arrival time, in microseconds since the epoch. 0 when the limiter has never admitted. */
  tatUs: number;
}

export interface GcraDecision {
  allowed: boolean;
  /** 0 when allowed; otherwise how long until this request would be allowed, in microseconds. */
  waitUs: number;
  /** The state to keep: unchanged when refused (a refused request takes no room). */
  state: GcraState;
}

/**
 * The emission interval in whole microseconds, rounded up: rounding down would let the limiter
 * admit a little more than `ratePerS`, and a provider counts every call.
 */
export function emissionIntervalUs(ratePerS: number): number {
  return Math.ceil(1_000_000 / ratePerS);
}

export function checkLimits({ ratePerS, burst }: GcraLimits): void {
  if (!(Number.isFinite(ratePerS) && ratePerS > 0)) throw new RangeError(`a rate limit must be a positive number of requests per second, got ${ratePerS}`);
  if (!(Number.isInteger(burst) && burst >= 1)) throw new RangeError(`a rate limit's burst must be a whole number from 1, got ${burst}`);
}

/** Decides one request at `nowUs` (whole microseconds since the epoch, as Redis TIME gives them). */
export function gcra(state: GcraState, nowUs: number, limits: GcraLimits): GcraDecision {
  checkLimits(limits);
  if (!Number.isSafeInteger(nowUs)) throw new RangeError(`now must be whole microseconds, got ${nowUs}`);
  const now = nowUs;
  const interval = emissionIntervalUs(limits.ratePerS);
  const tat = Math.max(state.tatUs, now);
  // Admitting this request moves TAT to tat + interval; that may be at most `burst` intervals ahead of now.
  const allowAt = tat + interval - limits.burst * interval;
  if (now >= allowAt) return { allowed: true, waitUs: 0, state: { tatUs: tat + interval } };
  return { allowed: false, waitUs: allowAt - now, state };
}

export const EMPTY_GCRA: GcraState = Object.freeze({ tatUs: 0 });
