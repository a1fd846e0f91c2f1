import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { DEFAULT_JITTER, jitterBounds, parseSchedule, retryDelay } from '../../src/shared/streams/retry-schedule.ts';

/** A random in [0, 1), as Math.random returns. */
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const schedule = fc.array(fc.integer({ min: 1, max: 3_600_000 }), { minLength: 1, maxLength: 12 });
const jitter = fc.double({ min: 0, max: 1, noNaN: true });

describe('parseSchedule', () => {
  it('reads comma-separated milliseconds, spaces allowed', () => {
    expect(parseSchedule('1000,5000,30000,120000,600000')).toEqual([1000, 5000, 30000, 120000, 600000]);
    expect(parseSchedule(' 250 , 1000 ')).toEqual([250, 1000]);
  });

  it('names the problem: empty, a stray comma, not a number, zero', () => {
    expect(() => parseSchedule('')).toThrow('empty');
    expect(() => parseSchedule('1000,,5000')).toThrow('empty item 2');
    expect(() => parseSchedule('1000,5s')).toThrow('"5s", not a whole number');
    expect(() => parseSchedule('1000,-5')).toThrow('"-5", not a whole number');
    expect(() => parseSchedule('1.5')).toThrow('not a whole number');
    expect(() => parseSchedule('0,1000')).toThrow('item 1 of "0,1000" is 0');
  });

  it('reads back any schedule it is given as text', () => {
    fc.assert(fc.property(schedule, (steps) => expect(parseSchedule(steps.join(','))).toEqual(steps)));
  });
});

describe('retryDelay', () => {
  it('stays within the step jitter bounds when there is no Retry-After, and never goes negative', () => {
    fc.assert(
      fc.property(schedule, jitter, unit, fc.nat(20), (steps, j, r, pick) => {
        const attempt = (pick % steps.length) + 1;
        const delay = retryDelay({ attempt, schedule: steps, jitter: j, random: () => r })!;
        const { min, max } = jitterBounds(steps[attempt - 1]!, j);
        expect(delay).toBeGreaterThanOrEqual(Math.max(0, min));
        expect(delay).toBeLessThanOrEqual(max);
        expect(Number.isInteger(delay)).toBe(true);
      }),
    );
  });

  it('spreads a step over ±20% by default, centred on the step', () => {
    expect(retryDelay({ attempt: 1, schedule: [1000], random: () => 0 })).toBe(800);
    expect(retryDelay({ attempt: 1, schedule: [1000], random: () => 0.5 })).toBe(1000);
    expect(retryDelay({ attempt: 1, schedule: [1000], random: () => 0.9999999 })).toBe(1200);
    expect(jitterBounds(1000)).toEqual({ min: 800, max: 1200 });
    expect(DEFAULT_JITTER).toBe(0.2);
  });

  it('never answers sooner than a Retry-After, and uses the schedule when the Retry-After is shorter', () => {
    fc.assert(
      fc.property(schedule, unit, fc.nat(20), fc.integer({ min: 1, max: 86_400_000 }), (steps, r, pick, retryAfterMs) => {
        const attempt = (pick % steps.length) + 1;
        const plain = retryDelay({ attempt, schedule: steps, random: () => r })!;
        const withRetryAfter = retryDelay({ attempt, schedule: steps, retryAfterMs, random: () => r })!;
        expect(withRetryAfter).toBeGreaterThanOrEqual(retryAfterMs);
        expect(withRetryAfter).toBe(Math.max(plain, retryAfterMs));
      }),
    );
  });

  it('ignores a Retry-After that is not a positive finite number', () => {
    for (const retryAfterMs of [Number.NaN, -5, 0, Number.POSITIVE_INFINITY]) {
      expect(retryDelay({ attempt: 1, schedule: [1000], retryAfterMs, random: () => 0.5 })).toBe(1000);
    }
  });

  it('is used up exactly after schedule.length retries, Retry-After or not', () => {
    fc.assert(
      fc.property(schedule, unit, fc.option(fc.nat(), { nil: undefined }), (steps, r, retryAfterMs) => {
        for (let attempt = 1; attempt <= steps.length; attempt++) {
          expect(retryDelay({ attempt, schedule: steps, retryAfterMs, random: () => r })).toBeNumber();
        }
        expect(retryDelay({ attempt: steps.length + 1, schedule: steps, retryAfterMs, random: () => r })).toBeUndefined();
        expect(retryDelay({ attempt: steps.length + 7, schedule: steps, retryAfterMs, random: () => r })).toBeUndefined();
      }),
    );
  });

  it('grows with the schedule: for one random draw, a non-decreasing schedule gives non-decreasing delays', () => {
    fc.assert(
      fc.property(schedule, unit, (raw, r) => {
        const steps = [...raw].sort((a, b) => a - b);
        const delays = steps.map((_, i) => retryDelay({ attempt: i + 1, schedule: steps, random: () => r })!);
        for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThanOrEqual(delays[i - 1]!);
      }),
    );
  });

  it('grows with the draw: a larger random value never gives a shorter delay', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3_600_000 }), unit, unit, (step, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        const at = (r: number) => retryDelay({ attempt: 1, schedule: [step], random: () => r })!;
        expect(at(high)).toBeGreaterThanOrEqual(at(low));
      }),
    );
  });

  it('refuses an attempt below 1 or a jitter outside 0..1', () => {
    expect(() => retryDelay({ attempt: 0, schedule: [1000], random: Math.random })).toThrow(RangeError);
    expect(() => retryDelay({ attempt: 1.5, schedule: [1000], random: Math.random })).toThrow(RangeError);
    expect(() => retryDelay({ attempt: 1, schedule: [1000], jitter: 1.5, random: Math.random })).toThrow(RangeError);
  });
});
