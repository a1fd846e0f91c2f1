import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { CircuitBreaker, type Permit, type StateChange } from '../../src/payment/breaker.ts';

function breaker() {
  const changes: StateChange[] = [];
  const b = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000 }, (change) => changes.push(change));
  return { b, changes };
}

/** `n` calls that fail, each let through and reported at `now`. */
function failCalls(b: CircuitBreaker, n: number, now: number) {
  for (let i = 0; i < n; i++) {
    const permit = b.tryAcquire(now);
    if (permit) b.onResult(permit, false, now);
  }
}

describe('the circuit breaker', () => {
  it('stays closed while calls succeed, and through fewer failures in a row than the threshold', () => {
    const { b } = breaker();
    for (const ok of [false, false, true, false, false, true]) {
      const permit = b.tryAcquire(0);
      expect(permit).toEqual({ epoch: 0, trial: false });
      b.onResult(permit!, ok, 0);
    }
    expect(b.state(0)).toBe('closed');
    expect(b.waitMs(0)).toBe(0);
  });

  it('opens after the threshold of failures in a row and refuses calls for the cooldown', () => {
    const { b, changes } = breaker();
    failCalls(b, 3, 100);
    expect(b.state(100)).toBe('open');
    expect(changes).toEqual([{ from: 'closed', to: 'open' }]);
    expect(b.tryAcquire(500)).toBeUndefined();
    expect(b.waitMs(500)).toBe(600);
    expect(b.tryAcquire(1099)).toBeUndefined();
  });

  it('lets exactly one trial through once the cooldown is over (half-open)', () => {
    const { b } = breaker();
    failCalls(b, 3, 0);
    expect(b.state(1000)).toBe('half-open');
    expect(b.tryAcquire(1000)).toEqual({ epoch: 1, trial: true });
    expect(b.tryAcquire(1001)).toBeUndefined();
    expect(b.waitMs(1001)).toBeGreaterThan(0);
  });

  it('closes when the trial succeeds', () => {
    const { b, changes } = breaker();
    failCalls(b, 3, 0);
    b.onResult(b.tryAcquire(1000)!, true, 1010);
    expect(b.state(1010)).toBe('closed');
    expect(b.tryAcquire(1010)).toBeDefined();
    expect(changes.map((c) => c.to)).toEqual(['open', 'half-open', 'closed']);
  });

  it('opens again for a full cooldown when the trial fails', () => {
    const { b, changes } = breaker();
    failCalls(b, 3, 0);
    b.onResult(b.tryAcquire(1000)!, false, 1200);
    expect(b.state(1200)).toBe('open');
    expect(b.tryAcquire(2100)).toBeUndefined();
    expect(b.state(2200)).toBe('half-open');
    expect(changes.map((c) => c.to)).toEqual(['open', 'half-open', 'open']);
  });

  it('ignores calls that started before it opened and finish after', () => {
    const { b, changes } = breaker();
    const slow = b.tryAcquire(0)!; // a slow call, let through while closed
    failCalls(b, 3, 10);
    b.onResult(slow, true, 20); // the slow call succeeds late
    expect(b.state(20)).toBe('open');
    expect(b.tryAcquire(500)).toBeUndefined();
    expect(changes.map((c) => c.to)).toEqual(['open']);
  });

  it('does not take a call that started while closed and finished in half-open for the trial', () => {
    const { b, changes } = breaker();
    const slow = b.tryAcquire(0)!;
    failCalls(b, 3, 10);
    const trial = b.tryAcquire(1010)!;
    expect(trial.trial).toBe(true);
    // The slow call finishes first, successfully: the breaker must still wait for its real trial.
    b.onResult(slow, true, 1020);
    expect(b.state(1020)).toBe('half-open');
    expect(b.tryAcquire(1020)).toBeUndefined();
    b.onResult(trial, false, 1030);
    expect(b.state(1030)).toBe('open');
    expect(changes.map((c) => c.to)).toEqual(['open', 'half-open', 'open']);
  });

  it('needs the threshold of failures again after closing', () => {
    const { b } = breaker();
    failCalls(b, 3, 0);
    b.onResult(b.tryAcquire(1000)!, true, 1000);
    failCalls(b, 2, 1001);
    expect(b.state(1002)).toBe('closed');
    failCalls(b, 1, 1003);
    expect(b.state(1003)).toBe('open');
  });
});

describe('the circuit breaker, driven by random call sequences', () => {
  type Action = { kind: 'acquire' } | { kind: 'finish'; index: number; ok: boolean } | { kind: 'tick'; ms: number };
  const action: fc.Arbitrary<Action> = fc.oneof(
    fc.constant({ kind: 'acquire' as const }),
    fc.record({ kind: fc.constant('finish' as const), index: fc.nat(), ok: fc.boolean() }),
    fc.record({ kind: fc.constant('tick' as const), ms: fc.nat({ max: 3000 }) }),
  );

  it('keeps its invariants: one trial at a time, only the trial closes it, stale calls change nothing, threshold failures open it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 10, max: 2000 }), fc.array(action, { maxLength: 150 }), (threshold, cooldownMs, actions) => {
        const changes: StateChange[] = [];
        const b = new CircuitBreaker({ failureThreshold: threshold, cooldownMs }, (c) => changes.push(c));
        let now = 0;
        const inFlight: Permit[] = [];
        let failuresInARow = 0;
        for (const step of actions) {
          if (step.kind === 'tick') now += step.ms;
          if (step.kind === 'acquire') {
            const before = b.state(now);
            const permit = b.tryAcquire(now);
            if (before === 'closed') expect(permit).toBeDefined();
            if (before === 'open') expect(permit).toBeUndefined();
            if (permit) inFlight.push(permit);
            // Never two trials out at once.
            expect(inFlight.filter((p) => p.trial && p.epoch === permit?.epoch).length).toBeLessThanOrEqual(1);
          }
          if (step.kind === 'finish' && inFlight.length > 0) {
            const [permit] = inFlight.splice(step.index % inFlight.length, 1);
            const stateBefore = b.state(now);
            const changesBefore = changes.length;
            b.onResult(permit!, step.ok, now);
            // The breaker's period: one more each time it opened.
            const current = changes.slice(0, changesBefore).filter((c) => c.to === 'open').length;
            if (stateBefore !== 'closed' && !permit!.trial) {
              // A call from before the breaker opened changes nothing.
              expect(changes.length).toBe(changesBefore);
            }
            if (changes.length > changesBefore && changes.at(-1)!.to === 'closed') expect(permit!.trial).toBe(true);
            if (stateBefore === 'closed' && !permit!.trial && permit!.epoch === current) {
              failuresInARow = step.ok ? 0 : failuresInARow + 1;
              if (failuresInARow >= threshold) {
                expect(b.state(now)).toBe('open');
                failuresInARow = 0;
              }
            }
          }
          // Transitions follow the diagram.
          for (const { from, to } of changes) {
            expect(from).not.toBe(to);
            if (to === 'closed') expect(from).toBe('half-open');
            if (to === 'half-open') expect(from).toBe('open');
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
