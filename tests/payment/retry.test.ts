import { describe, expect, it } from 'bun:test';
import { canRetry, nextDelay } from '../../src/payment/retry.ts';

const policy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

describe('the retry policy', () => {
  it('doubles the ceiling each attempt, capped, with full jitter below it', () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5].map((attempt) => nextDelay(attempt, policy, top))).toEqual([99, 199, 399, 799, 999]);
    expect(nextDelay(3, policy, () => 0)).toBe(0);
    expect(nextDelay(3, policy, () => 0.5)).toBe(200);
  });

  it('allows maxAttempts calls in total', () => {
    expect([1, 2, 3, 4].map((attempt) => canRetry(attempt, policy))).toEqual([true, true, true, false]);
  });
});
