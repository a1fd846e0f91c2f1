import { backoffDelay } from '../backoff/backoff.ts';

/**
 * The consumer runner's decisions as a pure state machine: no Redis, no clock, no timers. The IO
 * shell (consumer.ts) asks `nextStep` what to do, does it, and feeds what happened back through
 * `apply`. Everything that could stall or flood a worker is decided here, where property tests
 * (tests/shared/runner-machine.test.ts) drive it with random sequences of outcomes and faults.
 *
 * Which entries are in memory is kept once, by the dispatcher (dispatcher.ts); the machine is shown
 * its counts (`HeldCounts`) with each question instead of keeping a count of its own beside them.
 *
 *   starting ──group ready──▶ running ◀──probe ok── paused (dependency)
 *      ▲                        │  ▲                     ▲
 *      │              NOGROUP   │  │ group ready         │ transient failure
 *      │                        ▼  │                     │
 *      └───────────────── recovering-group          (from running)
 *
 *   any phase ──stop──▶ draining ──nothing held, or deadline──▶ stopped
 *
 * A failed Redis call does not change the phase: it sets `retryAt`, and the next step waits.
 */
export type RunnerPhase = 'starting' | 'running' | 'paused' | 'recovering-group' | 'draining' | 'stopped';

export interface RunnerLimits {
  /** Entries handled at once. */
  concurrency: number;
  /** Most entries one read (XREADGROUP, XAUTOCLAIM, own-pending read) may ask for. */
  readBound: number;
  /** Most entries held in memory at once: running, read ahead, or waiting for a retry. */
  capacity: number;
  /** Read again once at least this much room is free (not per freed slot: a round trip per entry). */
  readWhenRoom: number;
  blockMs: number;
  claimEveryMs: number;
  /** How often the claim on held entries is extended (claim-keeper.ts). */
  extendEveryMs: number;
  /** Undefined: never trim. */
  trimEveryMs?: number;
  backoff: { baseMs: number; maxMs: number };
}

/** What the consumer holds in memory, as the dispatcher counts it. */
export interface HeldCounts {
  /** Entries in memory: read ahead, running, or awaiting. */
  held: number;
  /** Of those, entries that failed because a dependency was away: retried by this consumer once it is back. */
  awaiting: number;
}

export interface RunnerState {
  phase: RunnerPhase;
  /** Why it is paused: a dependency is down (probe until it answers). */
  pausedBecause?: 'dependency';
  /** No Redis call or probe before this time (backoff after a failure). */
  retryAt: number;
  failuresInARow: number;
  /** Whether the last Redis call succeeded. */
  redisOk: boolean;
  /** Pauses since an entry last succeeded: each one waits longer before probing, so a failure that only looks transient cannot spin. */
  pausesInARow: number;
  lastError?: string;
  nextClaimAt: number;
  nextTrimAt: number;
  /** When draining: give up waiting for held entries at this time. */
  stopDeadline?: number;
}

export type RunnerStep =
  /** XGROUP CREATE (from 0, MKSTREAM), then read this consumer's own pending entries (at most `count`). */
  | { kind: 'ensure-group'; count: number }
  /** Ask the dependency whether it is back. */
  | { kind: 'probe' }
  /** Take back up to `count` awaiting entries that are still ours, and run them again. */
  | { kind: 'retry-awaiting'; count: number }
  /** XAUTOCLAIM entries idle past CLAIM_IDLE_MS, at most `count`. */
  | { kind: 'claim'; count: number }
  | { kind: 'trim' }
  /** XREADGROUP ... COUNT `count` BLOCK `blockMs` >. */
  | { kind: 'read'; count: number; blockMs: number }
  /** Nothing to do before `ms` pass (backoff, a closed gate), or until room frees or an entry finishes. */
  | { kind: 'wait'; ms: number; reason: 'backoff' | 'gate' | 'room' | 'drain' }
  | { kind: 'exit' };

export type RunnerEvent =
  | { type: 'group-ready' }
  | { type: 'read' }
  /** `sweepDone`: the XAUTOCLAIM cursor came back to 0-0, so the whole pending list was looked at. */
  | { type: 'claimed'; sweepDone: boolean }
  | { type: 'trimmed' }
  /** Entries were acknowledged: the dependency works, so the next pause starts its backoff afresh. */
  | { type: 'succeeded' }
  /** An entry failed because a dependency was away; it stays pending, and in memory if `keepsForRetry`. */
  | { type: 'entry-transient'; error: string }
  /** Awaiting entries were checked (still ours: run again; not: let go). */
  | { type: 'retried' }
  | { type: 'probe-ok' }
  | { type: 'probe-failed'; error: string }
  | { type: 'redis-error'; error: string; noGroup: boolean }
  | { type: 'stop'; deadline: number }
  /** While draining: every held entry finished, or the deadline passed. */
  | { type: 'drained' };

export function initialState(now: number): RunnerState {
  return { phase: 'starting', retryAt: 0, failuresInARow: 0, redisOk: false, pausesInARow: 0, nextClaimAt: now, nextTrimAt: now };
}

/** Limits from the consumer's settings; the read-ahead buffer holds at most one round of slots, so replicas share a backlog. */
export function runnerLimits(options: {
  concurrency: number;
  batchSize: number;
  blockMs: number;
  claimIdleMs: number;
  maxAgeMs?: number;
}): RunnerLimits {
  const readAhead = Math.max(1, Math.min(options.batchSize, options.concurrency));
  return {
    concurrency: options.concurrency,
    readBound: Math.max(1, options.batchSize),
    capacity: options.concurrency + readAhead,
    readWhenRoom: Math.max(1, Math.ceil(readAhead / 2)),
    blockMs: options.blockMs,
    // Often enough that an entry abandoned by a dead consumer runs again within CLAIM_IDLE_MS + 1 s.
    claimEveryMs: Math.max(25, Math.min(Math.floor(options.claimIdleMs / 4), 1000)),
    // Three rounds per CLAIM_IDLE_MS: two can be missed before a live consumer's entry looks abandoned.
    extendEveryMs: Math.max(1, Math.floor(options.claimIdleMs / 3)),
    trimEveryMs: options.maxAgeMs === undefined ? undefined : 60_000,
    backoff: { baseMs: 100, maxMs: 5000 },
  };
}

/**
 * What to do next, holding `held`. `gateMs` is how long the owner wants new work held off (the payment
 * worker's open breaker).
 */
export function nextStep(state: RunnerState, held: HeldCounts, limits: RunnerLimits, now: number, gateMs = 0): RunnerStep {
  if (state.phase === 'stopped') return { kind: 'exit' };
  if (state.phase === 'draining') {
    if (held.held - held.awaiting <= 0 || now >= (state.stopDeadline ?? now)) return { kind: 'exit' };
    return { kind: 'wait', ms: Math.max(1, (state.stopDeadline ?? now) - now), reason: 'drain' };
  }
  if (now < state.retryAt) return { kind: 'wait', ms: state.retryAt - now, reason: 'backoff' };
  const room = limits.capacity - held.held;
  // The group first: every other command fails with NOGROUP until it exists.
  if (state.phase === 'starting' || state.phase === 'recovering-group') {
    if (room < 1) return { kind: 'wait', ms: limits.blockMs, reason: 'room' };
    return { kind: 'ensure-group', count: Math.min(room, limits.readBound) };
  }
  // A closed gate (open breaker) holds everything, retries included: they would only fail again.
  if (gateMs > 0) return { kind: 'wait', ms: Math.min(gateMs, limits.blockMs), reason: 'gate' };
  if (state.phase === 'paused') return { kind: 'probe' };
  if (held.awaiting > 0) return { kind: 'retry-awaiting', count: Math.min(held.awaiting, limits.readBound) };
  if (room < limits.readWhenRoom) return { kind: 'wait', ms: limits.blockMs, reason: 'room' };
  const count = Math.min(room, limits.readBound);
  if (now >= state.nextClaimAt) return { kind: 'claim', count };
  if (limits.trimEveryMs !== undefined && now >= state.nextTrimAt) return { kind: 'trim' };
  // Never block past the next claim, so abandoned entries are taken over on time.
  return { kind: 'read', count, blockMs: Math.max(1, Math.min(limits.blockMs, state.nextClaimAt - now)) };
}

/** Whether an entry that failed on an outage is kept to be retried here: not once stopping (it stays pending for another consumer). */
export function keepsForRetry(state: RunnerState): boolean {
  return state.phase !== 'draining' && state.phase !== 'stopped';
}

// One shared object, not one per apply(): apply runs for every read.
const redisAnswered = Object.freeze({ redisOk: true, failuresInARow: 0, lastError: undefined, retryAt: 0 });

/** The state after `event`, at time `now`. `random` feeds the backoff jitter. */
export function apply(state: RunnerState, event: RunnerEvent, limits: RunnerLimits, now: number, random: () => number = Math.random): RunnerState {
  switch (event.type) {
    case 'group-ready':
      return { ...state, ...redisAnswered, phase: state.phase === 'draining' || state.phase === 'stopped' ? state.phase : 'running' };
    case 'read':
      return { ...state, ...redisAnswered };
    case 'claimed':
      return { ...state, ...redisAnswered, nextClaimAt: event.sweepDone ? now + limits.claimEveryMs : state.nextClaimAt };
    case 'trimmed':
      return { ...state, ...redisAnswered, nextTrimAt: now + (limits.trimEveryMs ?? 0) };
    case 'succeeded':
      // The same state when nothing changes: this runs for every batch that succeeds.
      return state.pausesInARow === 0 ? state : { ...state, pausesInARow: 0 };
    case 'entry-transient': {
      // Nobody will retry it here once stopping: it stays pending for another consumer.
      if (!keepsForRetry(state)) return state;
      if (state.phase !== 'running') return { ...state, lastError: event.error };
      const pausesInARow = state.pausesInARow + 1;
      const probeAt = pausesInARow > 1 ? now + backoffDelay(pausesInARow - 1, { ...limits.backoff, jitter: 'equal' }, random) : state.retryAt;
      return { ...state, phase: 'paused', pausedBecause: 'dependency', pausesInARow, retryAt: probeAt, lastError: event.error };
    }
    case 'retried':
      return { ...state, ...redisAnswered };
    case 'probe-ok':
      return { ...state, phase: state.phase === 'paused' ? 'running' : state.phase, pausedBecause: undefined, failuresInARow: 0, retryAt: 0 };
    case 'probe-failed':
      return failed(state, event.error, limits, now, random, false);
    case 'redis-error': {
      if (!event.noGroup) return failed(state, event.error, limits, now, random, true);
      if (state.phase === 'draining' || state.phase === 'stopped') return { ...state, lastError: event.error };
      // Redis came back empty (restart without persistence, failover, FLUSHALL). Pending entries went
      // with the group; the recreated group (from id 0) delivers whatever entries are left again, so
      // the shell lets go of those held for a retry rather than claim them from a group that no longer has them.
      return { ...state, phase: 'recovering-group', pausedBecause: undefined, lastError: event.error, redisOk: true };
    }
    case 'stop':
      if (state.phase === 'stopped') return state;
      // The shell lets go of entries awaiting a retry: they stay pending in Redis for another consumer.
      return { ...state, phase: 'draining', pausedBecause: undefined, stopDeadline: event.deadline };
    case 'drained':
      return state.phase === 'draining' ? { ...state, phase: 'stopped' } : state;
  }
}

function failed(state: RunnerState, error: string, limits: RunnerLimits, now: number, random: () => number, redis: boolean): RunnerState {
  const failuresInARow = state.failuresInARow + 1;
  const delay = backoffDelay(failuresInARow, { ...limits.backoff, jitter: 'equal' }, random);
  return { ...state, failuresInARow, lastError: error, retryAt: now + Math.max(1, delay), redisOk: redis ? false : state.redisOk };
}
