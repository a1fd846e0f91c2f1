import { describe, expect, it } from 'bun:test';
import { CircuitBreaker, type StateChange } from '../../src/payment/breaker.ts';

function breaker() {
  const changes: StateChange[] = [];
  const b = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000 }, (change) => changes.push(change));
  return { b, changes };
}

describe('the circuit breaker', () => {
  it('stays closed while calls succeed, and through fewer failures in a row than the threshold', () => {
    const { b } = breaker();
    for (const ok of [false, false, true, false, false, true]) {
      expect(b.tryAcquire(0)).toBe(true);
      b.onResult(ok, 0);
    }
    expect(b.state(0)).toBe('closed');
    expect(b.waitMs(0)).toBe(0);
  });

  it('opens after the threshold of failures in a row and refuses calls for the cooldown', () => {
    const { b, changes } = breaker();
    for (let i = 0; i < 3; i++) {
      b.tryAcquire(100);
      b.onResult(false, 100);
    }
    expect(b.state(100)).toBe('open');
    expect(changes).toEqual([{ from: 'closed', to: 'open' }]);
    expect(b.tryAcquire(500)).toBe(false);
    expect(b.waitMs(500)).toBe(600);
    expect(b.tryAcquire(1099)).toBe(false);
  });

  it('lets exactly one trial through once the cooldown is over (half-open)', () => {
    const { b } = breaker();
    for (let i = 0; i < 3; i++) b.onResult(false, 0);
    expect(b.state(1000)).toBe('half-open');
    expect(b.tryAcquire(1000)).toBe(true);
    expect(b.tryAcquire(1001)).toBe(false);
    expect(b.waitMs(1001)).toBeGreaterThan(0);
  });

  it('closes when the trial succeeds', () => {
    const { b, changes } = breaker();
    for (let i = 0; i < 3; i++) b.onResult(false, 0);
    b.tryAcquire(1000);
    b.onResult(true, 1010);
    expect(b.state(1010)).toBe('closed');
    expect(b.tryAcquire(1010)).toBe(true);
    expect(changes.map((c) => c.to)).toEqual(['open', 'half-open', 'closed']);
  });

  it('opens again for a full cooldown when the trial fails', () => {
    const { b, changes } = breaker();
    for (let i = 0; i < 3; i++) b.onResult(false, 0);
    b.tryAcquire(1000);
    b.onResult(false, 1200);
    expect(b.state(1200)).toBe('open');
    expect(b.tryAcquire(2100)).toBe(false);
    expect(b.state(2200)).toBe('half-open');
    expect(changes.map((c) => c.to)).toEqual(['open', 'half-open', 'open']);
  });

  it('ignores calls that started before it opened and finish after', () => {
    const { b, changes } = breaker();
    expect(b.tryAcquire(0)).toBe(true); // a slow call, let through while closed
    for (let i = 0; i < 3; i++) b.onResult(false, 10);
    b.onResult(true, 20); // the slow call succeeds late
    expect(b.state(20)).toBe('open');
    expect(b.tryAcquire(500)).toBe(false);
    expect(changes.map((c) => c.to)).toEqual(['open']);
  });

  it('needs the threshold of failures again after closing', () => {
    const { b } = breaker();
    for (let i = 0; i < 3; i++) b.onResult(false, 0);
    b.tryAcquire(1000);
    b.onResult(true, 1000);
    b.onResult(false, 1001);
    b.onResult(false, 1002);
    expect(b.state(1002)).toBe('closed');
    b.onResult(false, 1003);
    expect(b.state(1003)).toBe('open');
  });
});
