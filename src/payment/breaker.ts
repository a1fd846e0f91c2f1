/**
 * A circuit breaker, hand-written on purpose: it is small enough to read in one sitting.
 *
 *   closed     every call goes through; `failureThreshold` failures in a row open it
 *   open       no call goes through for `cooldownMs`; then one trial call is allowed (half-open)
 *   half-open  exactly one trial in flight: success closes the breaker, failure opens it again
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

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failuresInARow = 0;
  private openedAt = 0;
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

  /** May a call go out now? In half-open, only one caller gets a yes until that trial reports back. */
  tryAcquire(now: number): boolean {
    const state = this.state(now);
    if (state === 'closed') return true;
    if (state === 'open') return false;
    if (this.current === 'open') this.moveTo('half-open');
    if (this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  /** Milliseconds until a call may be tried again (0 when it may go now). */
  waitMs(now: number): number {
    const state = this.state(now);
    if (state === 'closed') return 0;
    if (state === 'open') return this.options.cooldownMs - (now - this.openedAt);
    return this.trialInFlight ? Math.max(1, Math.floor(this.options.cooldownMs / 10)) : 0;
  }

  /** Reports how a call that tryAcquire allowed went. */
  onResult(ok: boolean, now: number): void {
    // A call let through while closed can finish after the breaker opened: its result says nothing
    // about the gateway now, and only the half-open trial may close the breaker again.
    if (this.current === 'open') return;
    const wasTrial = this.current === 'half-open';
    if (wasTrial) this.trialInFlight = false;
    if (ok) {
      this.failuresInARow = 0;
      if (wasTrial) this.moveTo('closed');
      return;
    }
    this.failuresInARow++;
    if (wasTrial || this.failuresInARow >= this.options.failureThreshold) {
      this.openedAt = now;
      this.moveTo('open');
    }
  }

  private moveTo(to: BreakerState) {
    const from = this.current;
    this.current = to;
    this.onChange({ from, to });
  }
}
