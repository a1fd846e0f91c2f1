import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { EMPTY_GCRA, emissionIntervalUs, gcra, type GcraLimits, type GcraState } from '../../src/shared/streams/gcra.ts';

/** Epoch-sized times in microseconds, as Redis TIME gives them, so precision is tested where it matters. */
const EPOCH_US = 1_790_000_000_000_000;

const limits: fc.Arbitrary<GcraLimits> = fc.record({
  ratePerS: fc.oneof(fc.integer({ min: 1, max: 2000 }), fc.double({ min: 0.1, max: 5000, noNaN: true })),
  burst: fc.integer({ min: 1, max: 50 }),
});

/** Request times (µs), sorted: a clock never runs backwards. Whole milliseconds are common, to get ties. */
const times = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 20_000 }).map((ms) => ms * 1000), fc.integer({ min: 0, max: 20_000_000 })), {
    minLength: 1,
    maxLength: 300,
    size: 'large',
  })
  .map((offsets) => offsets.sort((a, b) => a - b).map((offset) => EPOCH_US + offset));

/** Runs every request through the limiter; returns the admitted times and the final state. */
function replay(requests: readonly number[], l: GcraLimits): { admitted: number[]; state: GcraState } {
  let state = EMPTY_GCRA;
  const admitted: number[] = [];
  for (const now of requests) {
    const decision = gcra(state, now, l);
    if (decision.allowed) admitted.push(now);
    state = decision.state;
  }
  return { admitted, state };
}

describe('gcra', () => {
  it('admits at most burst + rate × W in any window of W seconds, over any sequence of requests', () => {
    fc.assert(
      fc.property(times, limits, (requests, l) => {
        const { admitted } = replay(requests, l);
        // Every window that holds admissions is covered by one from an admission i to an admission j.
        const over: string[] = [];
        for (let i = 0; i < admitted.length; i++) {
          for (let j = i; j < admitted.length; j++) {
            const windowS = (admitted[j]! - admitted[i]!) / 1_000_000;
            if (j - i + 1 > l.burst + l.ratePerS * windowS + 1e-9) over.push(`${j - i + 1} admitted in ${windowS} s`);
          }
        }
        expect(over).toEqual([]);
      }),
    );
  });

  it('never tells a request to wait when it could go: the wait given is exactly when it would be admitted', () => {
    fc.assert(
      fc.property(times, limits, fc.integer({ min: 0, max: 5_000_000 }), (requests, l, after) => {
        const { state } = replay(requests, l);
        const now = requests.at(-1)! + after;
        const decision = gcra(state, now, l);
        if (decision.allowed) {
          expect(decision.waitUs).toBe(0);
          return;
        }
        expect(decision.waitUs).toBeGreaterThan(0);
        expect(decision.state).toBe(state);
        expect(gcra(state, now + decision.waitUs, l).allowed).toBe(true);
        // One microsecond sooner is still too soon.
        expect(gcra(state, now + decision.waitUs - 1, l).allowed).toBe(false);
      }),
    );
  });

  it('gives a client that always waits as told exactly burst + floor(W / interval) calls in W', () => {
    fc.assert(
      fc.property(limits, fc.integer({ min: 0, max: 10_000_000 }), (l, windowUs) => {
        let state = EMPTY_GCRA;
        let now = EPOCH_US;
        let admitted = 0;
        for (;;) {
          const decision = gcra(state, now, l);
          state = decision.state;
          if (decision.allowed) admitted++;
          else now += decision.waitUs;
          if (now > EPOCH_US + windowUs) break;
          if (admitted > 100_000) throw new Error('runaway');
        }
        expect(admitted).toBe(l.burst + Math.floor(windowUs / emissionIntervalUs(l.ratePerS)));
      }),
    );
  });

  it('lets a full burst go at once after a quiet spell, then one per interval', () => {
    const l = { ratePerS: 10, burst: 3 };
    const { admitted } = replay([0, 0, 0, 0, 50, 100, 199, 200].map((ms) => EPOCH_US + ms * 1000), l);
    expect(admitted.map((t) => (t - EPOCH_US) / 1000)).toEqual([0, 0, 0, 100, 200]);
    expect(gcra(EMPTY_GCRA, EPOCH_US, l)).toEqual({ allowed: true, waitUs: 0, state: { tatUs: EPOCH_US + 100_000 } });
    expect(gcra({ tatUs: EPOCH_US + 300_000 }, EPOCH_US + 10_000, l)).toEqual({ allowed: false, waitUs: 90_000, state: { tatUs: EPOCH_US + 300_000 } });
  });

  it('refuses limits that cannot be met', () => {
    expect(() => gcra(EMPTY_GCRA, EPOCH_US, { ratePerS: 0, burst: 1 })).toThrow(RangeError);
    expect(() => gcra(EMPTY_GCRA, EPOCH_US, { ratePerS: Number.NaN, burst: 1 })).toThrow(RangeError);
    expect(() => gcra(EMPTY_GCRA, EPOCH_US, { ratePerS: 5, burst: 0 })).toThrow(RangeError);
    expect(() => gcra(EMPTY_GCRA, EPOCH_US, { ratePerS: 5, burst: 1.5 })).toThrow(RangeError);
    expect(() => gcra(EMPTY_GCRA, 1.5, { ratePerS: 5, burst: 1 })).toThrow(RangeError);
  });
});
