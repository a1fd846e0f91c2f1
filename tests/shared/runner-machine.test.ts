import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { backoffDelay } from '../../src/shared/backoff/backoff.ts';
import { decideClaimed, decideFailure, type FailureKind } from '../../src/shared/streams/failure-policy.ts';
import { createFieldsReader } from '../../src/shared/streams/fields-reader.ts';
import {
  apply,
  initialState,
  keepsForRetry,
  nextStep,
  runnerLimits,
  type HeldCounts,
  type RunnerLimits,
  type RunnerState,
  type RunnerStep,
} from '../../src/shared/streams/runner-machine.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';

/**
 * The runner's pure core driven by random sequences. A small model plays the world: it answers each
 * step the machine asks for (a read returns some entries, Redis fails, the group vanishes), finishes
 * held entries in random ways, moves the clock, and asks to stop; after every event the invariants
 * the issue states must hold. What is held is the world's (the dispatcher's, in the consumer): the
 * model counts it as the dispatcher does and shows the machine those counts.
 */

type WorldEvent =
  | { kind: 'answer'; got: number }
  | { kind: 'redis-error' }
  | { kind: 'nogroup' }
  | { kind: 'finish'; how: 'ok' | 'dead-lettered' | 'left-pending' | 'transient' }
  /** A batch handler's batch ends: up to `count` running entries finish together. */
  | { kind: 'finish-batch'; count: number; ok: boolean }
  | { kind: 'probe'; ok: boolean }
  | { kind: 'tick'; ms: number }
  | { kind: 'gate'; ms: number }
  | { kind: 'stop' };

const worldEvent: fc.Arbitrary<WorldEvent> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('answer' as const), got: fc.nat({ max: 500 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'redis-error' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'nogroup' as const }) },
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('finish' as const), how: fc.constantFrom('ok' as const, 'dead-lettered' as const, 'left-pending' as const, 'transient' as const) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('finish-batch' as const), count: fc.nat({ max: 300 }), ok: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('probe' as const), ok: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.nat({ max: 20_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('gate' as const), ms: fc.nat({ max: 5000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'stop' as const }) },
);

const settings = fc.record({
  concurrency: fc.integer({ min: 1, max: 64 }),
  batchSize: fc.integer({ min: 1, max: 200 }),
  blockMs: fc.integer({ min: 10, max: 5000 }),
  claimIdleMs: fc.integer({ min: 100, max: 60_000 }),
  maxAgeMs: fc.option(fc.integer({ min: 1000, max: 3_600_000 }), { nil: undefined }),
});

const REDIS_STEPS = new Set<RunnerStep['kind']>(['ensure-group', 'retry-awaiting', 'claim', 'trim', 'read']);
const READS = new Set<RunnerStep['kind']>(['ensure-group', 'claim', 'read']);

/** The machine's state and what the world holds, as the consumer has them after an event. */
interface World {
  state: RunnerState;
  held: HeldCounts;
}

/** Runs a world against the machine; `check` sees every step before it is answered. */
function simulate(limits: RunnerLimits, events: WorldEvent[], check: (before: World, step: RunnerStep, event: WorldEvent, after: World, now: number) => void) {
  let now = 1_000_000;
  let gate = 0;
  let state = initialState(now);
  let held: HeldCounts = { held: 0, awaiting: 0 };
  // Entries leave memory as the dispatcher lets them: acknowledged ones tell the machine.
  const finish = (count: number, ok: boolean) => {
    held = { ...held, held: held.held - count };
    if (ok && count > 0) state = apply(state, { type: 'succeeded' }, limits, now);
  };
  const letGoAwaiting = () => (held = { held: held.held - held.awaiting, awaiting: 0 });
  for (const event of events) {
    const asked = now;
    const step = nextStep(state, held, limits, now, gate);
    const before = { state, held };
    switch (event.kind) {
      case 'answer':
        if (step.kind === 'read' || step.kind === 'claim' || step.kind === 'ensure-group') {
          // Redis honours COUNT: never more than asked for.
          const got = Math.min(event.got, step.count);
          state =
            step.kind === 'read'
              ? apply(state, { type: 'read' }, limits, now)
              : step.kind === 'claim'
                ? apply(state, { type: 'claimed', sweepDone: event.got % 2 === 0 }, limits, now)
                : apply(state, { type: 'group-ready' }, limits, now);
          held = { ...held, held: held.held + got };
        } else if (step.kind === 'retry-awaiting') {
          const owned = Math.min(event.got, step.count);
          state = apply(state, { type: 'retried' }, limits, now);
          // Those still ours run again; the rest leave memory.
          held = { held: held.held - (step.count - owned), awaiting: held.awaiting - step.count };
        } else if (step.kind === 'trim') {
          state = apply(state, { type: 'trimmed' }, limits, now);
        } else if (step.kind === 'probe') {
          state = apply(state, { type: 'probe-ok' }, limits, now);
        } else if (step.kind === 'wait') {
          now += step.ms;
        }
        break;
      case 'redis-error':
        if (REDIS_STEPS.has(step.kind)) state = apply(state, { type: 'redis-error', error: 'ECONNRESET', noGroup: false }, limits, now);
        break;
      case 'nogroup':
        if (REDIS_STEPS.has(step.kind)) {
          state = apply(state, { type: 'redis-error', error: 'NOGROUP', noGroup: true }, limits, now);
          letGoAwaiting();
        }
        break;
      case 'finish':
        // Only entries that are running or read ahead can finish; awaiting ones wait for a retry.
        if (held.held - held.awaiting > 0) {
          if (event.how !== 'transient') {
            finish(1, event.how === 'ok');
          } else if (keepsForRetry(state)) {
            held = { ...held, awaiting: held.awaiting + 1 };
            state = apply(state, { type: 'entry-transient', error: 'ECONNREFUSED' }, limits, now);
          } else {
            finish(1, false);
          }
        }
        break;
      case 'finish-batch':
        // Only entries it ran: never more than are running or read ahead.
        finish(Math.min(event.count, held.held - held.awaiting), event.ok);
        break;
      case 'probe':
        if (step.kind === 'probe') state = apply(state, event.ok ? { type: 'probe-ok' } : { type: 'probe-failed', error: 'down' }, limits, now);
        break;
      case 'tick':
        now += event.ms;
        break;
      case 'gate':
        gate = event.ms;
        break;
      case 'stop':
        state = apply(state, { type: 'stop', deadline: now + 5000 }, limits, now);
        letGoAwaiting();
        break;
    }
    if (state.phase === 'draining' && held.held - held.awaiting <= 0) state = apply(state, { type: 'drained' }, limits, now);
    check(before, step, event, { state, held }, asked);
  }
}

describe('the runner state machine', () => {
  it('asks every read for between 1 and the bound, never COUNT 0 (which Redis reads as "no limit")', () => {
    fc.assert(
      fc.property(settings, fc.array(worldEvent, { maxLength: 200 }), (options, events) => {
        const limits = runnerLimits(options);
        simulate(limits, events, (_before, step) => {
          if (step.kind === 'read' || step.kind === 'claim' || step.kind === 'ensure-group' || step.kind === 'retry-awaiting') {
            expect(step.count).toBeGreaterThanOrEqual(1);
            expect(step.count).toBeLessThanOrEqual(limits.readBound);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('never holds more than concurrency + one batch of entries, whatever the faults', () => {
    fc.assert(
      fc.property(settings, fc.array(worldEvent, { maxLength: 300 }), (options, events) => {
        const limits = runnerLimits(options);
        expect(limits.capacity).toBeLessThanOrEqual(options.concurrency + options.batchSize);
        simulate(limits, events, (before, step, _event, { held: after }) => {
          expect(after.held).toBeLessThanOrEqual(limits.capacity);
          expect(after.held).toBeGreaterThanOrEqual(0);
          expect(after.awaiting).toBeGreaterThanOrEqual(0);
          expect(after.awaiting).toBeLessThanOrEqual(after.held);
          // A read is only asked for when it fits, and a retry for no more than await one.
          if (READS.has(step.kind) && 'count' in step) expect(before.held.held + step.count).toBeLessThanOrEqual(limits.capacity);
          if (step.kind === 'retry-awaiting') expect(step.count).toBeLessThanOrEqual(before.held.awaiting);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('recreates the group first after NOGROUP, from any state, unless it is stopping', () => {
    fc.assert(
      fc.property(settings, fc.array(worldEvent, { maxLength: 200 }), (options, events) => {
        const limits = runnerLimits(options);
        simulate(limits, events, (before, step, event, after) => {
          if (event.kind !== 'nogroup' || !REDIS_STEPS.has(step.kind)) return;
          if (before.state.phase === 'draining' || before.state.phase === 'stopped') return;
          expect(after.state.phase).toBe('recovering-group');
          expect(after.held.awaiting).toBe(0);
          // Whatever the clock and the gate say, the next Redis command is XGROUP CREATE.
          for (const gate of [0, 1000]) {
            const next = nextStep(after.state, after.held, limits, after.state.retryAt, gate);
            expect(REDIS_STEPS.has(next.kind) ? next.kind : 'ensure-group').toBe('ensure-group');
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('reads nothing new after stop, and exits once nothing runs or the deadline passes', () => {
    fc.assert(
      fc.property(settings, fc.array(worldEvent, { maxLength: 200 }), (options, events) => {
        const limits = runnerLimits(options);
        let stopped = false;
        simulate(limits, events, (before, step, event) => {
          if (stopped) expect(READS.has(step.kind) || step.kind === 'retry-awaiting' || step.kind === 'probe').toBe(false);
          if (event.kind === 'stop' && before.state.phase !== 'stopped') stopped = true;
        });
      }),
      { numRuns: 300 },
    );
    // Draining ends: with nothing held it exits at once; with work held, at the deadline at the latest.
    const limits = runnerLimits({ concurrency: 4, batchSize: 10, blockMs: 100, claimIdleMs: 1000 });
    let state = apply(initialState(0), { type: 'group-ready' }, limits, 0);
    state = apply(state, { type: 'stop', deadline: 5000 }, limits, 0);
    const three = { held: 3, awaiting: 0 };
    expect(nextStep(state, three, limits, 10)).toEqual({ kind: 'wait', ms: 4990, reason: 'drain' });
    expect(nextStep(state, three, limits, 5000)).toEqual({ kind: 'exit' });
    expect(nextStep(state, { held: 0, awaiting: 0 }, limits, 20)).toEqual({ kind: 'exit' });
    // Entries awaiting a retry are not waited for: they stay pending for another consumer.
    expect(nextStep(state, { held: 2, awaiting: 2 }, limits, 20)).toEqual({ kind: 'exit' });
  });

  it('never spins: after a failure the next Redis call waits for a backoff', () => {
    fc.assert(
      fc.property(settings, fc.array(worldEvent, { maxLength: 200 }), (options, events) => {
        const limits = runnerLimits(options);
        simulate(limits, events, (before, step, event, after) => {
          if (event.kind !== 'redis-error' || !REDIS_STEPS.has(step.kind) || before.state.phase === 'stopped') return;
          expect(after.state.retryAt).toBeGreaterThan(0);
          const next = nextStep(after.state, after.held, limits, after.state.retryAt - 1);
          expect(next.kind === 'wait' || next.kind === 'exit').toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('pauses on a transient failure and takes no new entries until the probe passes', () => {
    fc.assert(
      fc.property(settings, fc.array(worldEvent, { maxLength: 200 }), (options, events) => {
        const limits = runnerLimits(options);
        simulate(limits, events, (before, step) => {
          if (before.state.phase === 'paused') expect(READS.has(step.kind) || step.kind === 'retry-awaiting').toBe(false);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('waits longer before each probe of pauses in a row, and starts afresh once entries succeed', () => {
    fc.assert(
      fc.property(settings, fc.array(worldEvent, { maxLength: 200 }), (options, events) => {
        const limits = runnerLimits(options);
        simulate(limits, events, (before, _step, event, after, now) => {
          const { baseMs, maxMs } = limits.backoff;
          if (before.state.phase === 'running' && after.state.phase === 'paused') {
            const pauses = after.state.pausesInARow;
            expect(pauses).toBe(before.state.pausesInARow + 1);
            // The second pause in a row and later: no probe before half the doubled ceiling (equal jitter).
            if (pauses > 1) expect(after.state.retryAt - now).toBeGreaterThanOrEqual(Math.floor(Math.min(maxMs, baseMs * 2 ** (pauses - 2)) / 2));
          }
          const ran = before.held.held - before.held.awaiting > 0;
          if (ran && ((event.kind === 'finish' && event.how === 'ok') || (event.kind === 'finish-batch' && event.ok && event.count > 0))) {
            expect(after.state.pausesInARow).toBe(0);
          }
        });
      }),
      { numRuns: 100 },
    );
  });

  it('extends the claim on held entries at least three times per CLAIM_IDLE_MS', () => {
    fc.assert(
      fc.property(settings, (options) => {
        const { extendEveryMs } = runnerLimits(options);
        expect(extendEveryMs).toBeGreaterThan(0);
        expect(extendEveryMs * 3).toBeLessThanOrEqual(options.claimIdleMs);
      }),
    );
  });

  it('never blocks a read past the next claim, so abandoned entries are taken over on time', () => {
    fc.assert(
      fc.property(settings, fc.array(worldEvent, { maxLength: 200 }), (options, events) => {
        const limits = runnerLimits(options);
        expect(limits.claimEveryMs).toBeLessThanOrEqual(1000);
        simulate(limits, events, (before, step, _event, _after, now) => {
          if (step.kind !== 'read') return;
          expect(step.blockMs).toBeLessThanOrEqual(limits.blockMs);
          expect(step.blockMs).toBeLessThanOrEqual(Math.max(1, before.state.nextClaimAt - now));
        });
      }),
      { numRuns: 100 },
    );
  });
});

describe('the failure policy', () => {
  const kinds = fc.constantFrom<FailureKind>('poison', 'transient', 'failed');

  it('dead-letters poison at once, never an outage, and any other failure only on its last delivery', () => {
    fc.assert(
      fc.property(kinds, fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 100 }), (kind, deliveries, max) => {
        const decision = decideFailure(kind, deliveries, max);
        if (kind === 'poison') expect(decision).toBe('dead-letter');
        if (kind === 'transient') expect(decision).toBe('pause');
        if (kind === 'failed') expect(decision).toBe(deliveries >= max ? 'dead-letter' : 'leave-pending');
      }),
    );
  });

  it('does not run a claimed entry already delivered more than MAX_DELIVERIES times', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 100 }), (deliveries, max) => {
        expect(decideClaimed(deliveries, max)).toBe(deliveries > max ? 'dead-letter' : 'process');
      }),
    );
  });
});

describe('the entry fields reader', () => {
  it('reads every entry as fieldsToRecord does, whatever names the entries before it had', () => {
    // Few names, so entries often share them (the reader's fast path) and sometimes do not.
    const flat = fc.array(fc.tuple(fc.constantFrom('eventId', 'type', 'orderId', 'items', '__proto__', 'x'), fc.string({ maxLength: 5 })), { maxLength: 8 });
    fc.assert(
      fc.property(fc.array(flat, { maxLength: 30 }), (entries) => {
        const read = createFieldsReader();
        for (const pairs of entries) {
          // Fresh strings, as Redis replies give: equal to the kept names, never the same objects.
          const fields = pairs.flatMap(([name, value]) => [`${name} `.slice(0, -1), value]);
          expect(read(fields)).toEqual(fieldsToRecord(fields));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('the backoff', () => {
  it('stays within the doubling ceiling, and equal jitter never goes below half of it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (attempt, baseMs, extra, r) => {
          const maxMs = baseMs + extra;
          const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
          const full = backoffDelay(attempt, { baseMs, maxMs }, () => r);
          const equal = backoffDelay(attempt, { baseMs, maxMs, jitter: 'equal' }, () => r);
          expect(full).toBeGreaterThanOrEqual(0);
          expect(full).toBeLessThan(Math.max(1, ceiling));
          expect(equal).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
          expect(equal).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
  });
});
