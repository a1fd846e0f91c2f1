/**
 * A circuit breaker, hand-written on purpose: it is small enough to read in one sitting.
 *
 *   closed     every call goes through; `failureThreshold` failures in a row open it
 *   open       no call goes through for `cooldownMs`; then one trial call is allowed (half-open)
 *   half-open  exactly one trial in flight: success closes the breaker, failure opens it again
 *
 * Each call that is let through gets a permit, and reports its result with it. A permit remembers
 * which period of the breaker it was issued in (`epoch`, counted up each time the breaker opens)
 * and whether it is the trial, so a slow call let through while closed cannot, by finishing late,
 * pass for the trial or re-open a breaker that has moved on.
 *
 * It never reads the clock: callers pass `now`, so tests drive time by hand.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
}

export interface StateChange {
  from: BreakerState;
  to: BreakerState;
}

/** Proof that a call was let through, handed back with its result. */
export interface Permit {
  readonly epoch: number;
  readonly trial: boolean;
}

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failuresInARow = 0;
  private openedAt = 0;
  private epoch = 0;
  private trialInFlight = false;

  constructor(
    private readonly options: BreakerOptions,
    /** Told about every transition, e.g. to log it. */
    private readonly onChange: (change: StateChange) => void = () => {},
  ) {}

  /** The state as of `now`: an open breaker whose cooldown is over reports half-open. */
  state(now: number): BreakerState {
    if (this.current === 'open' && now - this.openedAt >= this.options.cooldownMs) return 'half-open';
    return this.current;
  }

  /** May a call go out now? A permit if so; in half-open only one caller gets one until that trial reports back. */
  tryAcquire(now: number): Permit | undefined {
    const state = this.state(now);
    if (state === 'closed') return { epoch: this.epoch, trial: false };
    if (state === 'open') return undefined;
    if (this.current === 'open') this.moveTo('half-open');
    if (this.trialInFlight) return undefined;
    this.trialInFlight = true;
    return { epoch: this.epoch, trial: true };
  }

  /** Milliseconds until a call may be tried again (0 when it may go now). */
  waitMs(now: number): number {
    const state = this.state(now);
    if (state === 'closed') return 0;
    if (state === 'open') return this.options.cooldownMs - (now - this.openedAt);
    return this.trialInFlight ? Math.max(1, Math.floor(this.options.cooldownMs / 10)) : 0;
  }

  /** Reports how the call that was given `permit` went. */
  onResult(permit: Permit, ok: boolean, now: number): void {
    // Issued before the breaker last opened: its result says nothing about the gateway now.
    if (permit.epoch !== this.epoch) return;
    if (permit.trial) {
      this.trialInFlight = false;
      if (ok) {
        this.failuresInARow = 0;
        this.moveTo('closed');
      } else {
        this.open(now);
      }
      return;
    }
    if (this.current !== 'closed') return;
    if (ok) {
      this.failuresInARow = 0;
      return;
    }
    this.failuresInARow++;
    if (this.failuresInARow >= this.options.failureThreshold) this.open(now);
  }

  private open(now: number) {
    this.openedAt = now;
    this.epoch++;
    this.failuresInARow = 0;
    this.moveTo('open');
  }

  private moveTo(to: BreakerState) {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.onChange({ from, to });
  }
}
