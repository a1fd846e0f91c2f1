import type { HeldCounts, RunnerPhase, RunnerState } from './runner-machine.ts';

export interface ConsumerStatus {
  /** The runner's phase, or `reconnecting` while its Redis calls fail. */
  state: RunnerPhase | 'reconnecting';
  /** Whether the last Redis call succeeded. */
  redisOk: boolean;
  /** Why the consumer is holding off, when it is. */
  pausedBecause?: string;
  /** Entries in memory: running, read ahead, or waiting for a retry. */
  inflight: number;
  processed: number;
  failed: number;
  deadLettered: number;
  claimed: number;
  failuresInARow: number;
  lastError?: string;
}

/** What happened to entries so far. */
export interface ConsumerCounts {
  processed: number;
  failed: number;
  deadLettered: number;
  claimed: number;
}

/** The status /health shows, from the machine's state, what is held, and whether the loop waits on a closed gate. */
export function consumerStatus(state: RunnerState, held: HeldCounts, gated: boolean, counts: ConsumerCounts): ConsumerStatus {
  return {
    state: !state.redisOk && state.failuresInARow > 0 ? 'reconnecting' : gated && state.phase === 'running' ? 'paused' : state.phase,
    redisOk: state.redisOk,
    pausedBecause: gated ? 'gate closed (circuit breaker open)' : state.pausedBecause === 'dependency' ? 'dependency unavailable' : undefined,
    inflight: held.held,
    ...counts,
    failuresInARow: state.failuresInARow,
    lastError: state.lastError,
  };
}
