import { afterAll, describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import type Redis from 'ioredis';
import { EMPTY_GCRA, emissionIntervalUs, gcra } from '../../src/shared/streams/gcra.ts';
import { createRateLimiter, gcraInRedis } from '../../src/shared/streams/rate-limiter.ts';
import { connectRedis, deleteKeys, startPrivateRedis, uniquePrefix } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests(30_000);

/**
 * The shared rate limit (src/shared/streams/rate-limiter.ts) on real Redis: the script against the
 * pure gcra(), and several replicas (one connection each) taking turns under one key.
 */
const prefix = uniquePrefix('rate-limiter');
const admin = connectRedis();
const connections: Redis[] = [];
const servers: { destroy(): Promise<void> }[] = [];
afterAll(async () => {
  for (const connection of connections) connection.disconnect();
  await Promise.all(servers.map((server) => server.destroy()));
  await deleteKeys(admin, prefix);
  admin.disconnect();
});

let keySeq = 0;
const newKey = () => `${prefix}limit${++keySeq}`;

/** EVALSHA and EVAL calls the server has run (INFO commandstats). */
async function scriptCalls(url: string): Promise<number> {
  const probe = connectRedis(url);
  try {
    const stats = await probe.info('commandstats');
    return [...stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
  } finally {
    probe.disconnect();
  }
}

describe('the rate limiter script', () => {
  it('decides every request exactly as gcra() does, replayed at the same times', async () => {
    const EPOCH_US = 1_790_000_000_000_000;
    await fc.assert(
      fc.asyncProperty(
        fc.record({ ratePerS: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.5, max: 500, noNaN: true })), burst: fc.integer({ min: 1, max: 10 }) }),
        fc.array(fc.integer({ min: 0, max: 3_000_000 }), { minLength: 1, maxLength: 40 }),
        async (limits, offsets) => {
          const key = newKey();
          let state = EMPTY_GCRA;
          for (const now of offsets.sort((a, b) => a - b).map((offset) => EPOCH_US + offset)) {
            const expected = gcra(state, now, limits);
            state = expected.state;
            expect(await gcraInRedis(admin, key, now, limits)).toBe(expected.waitUs);
          }
          expect(Number(await admin.get(key))).toBe(state.tatUs);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('createRateLimiter', () => {
  it('lets a burst go at once, then names the wait until the next slot', async () => {
    const limiter = createRateLimiter({ redis: admin, key: newKey(), ratePerS: 1, burst: 3 });
    expect([await limiter.tryAcquire(), await limiter.tryAcquire(), await limiter.tryAcquire()]).toEqual([0, 0, 0]);
    const waitMs = await limiter.tryAcquire();
    // The next slot is one interval (1 s) after the first admission, less the time these calls took.
    expect(waitMs).toBeGreaterThan(0);
    expect(waitMs).toBeLessThanOrEqual(1000);
  });

  it('keeps several replicas, each with its own connection, together under one rate, without spinning', async () => {
    // A Redis of its own, so its command counts are this test's alone.
    const server = await startPrivateRedis();
    servers.push(server);
    const key = newKey();
    const ratePerS = 20;
    const burst = 5;
    const replicas = Array.from({ length: 4 }, () => {
      const redis = connectRedis(server.url);
      connections.push(redis);
      return createRateLimiter({ redis, key, ratePerS, burst });
    });
    const total = 45;
    let admitted = 0;
    const started = performance.now();
    // Three callers per replica, each taking calls until the 45 are done.
    await Promise.all(
      replicas.flatMap((limiter) =>
        Array.from({ length: 3 }, async () => {
          while (admitted < total) {
            await limiter.acquire();
            admitted++;
          }
        }),
      ),
    );
    const elapsedMs = performance.now() - started;
    // 12 callers may each have been admitted once more after the 45th: every admission counts.
    // GCRA admits at most burst + rate × W in W seconds, so `admitted` calls need at least
    // (admitted - burst) intervals between the first admission and the last; both fall inside
    // [started, now]. The interval is rounded up to whole microseconds, which only lengthens it.
    const intervalMs = emissionIntervalUs(ratePerS) / 1000;
    expect(admitted).toBeGreaterThanOrEqual(total);
    expect(elapsedMs).toBeGreaterThanOrEqual((admitted - burst) * intervalMs);

    // No busy waiting: a refused caller sleeps until the slot it was told of, and by then someone
    // has been admitted, so each caller asks about once per admission. Twice that is the bound
    // (a timer may wake a hair early and be told to wait a millisecond more).
    const asks = await scriptCalls(server.url);
    expect(asks).toBeGreaterThanOrEqual(admitted);
    expect(asks).toBeLessThanOrEqual(2 * 12 * (admitted + 1));
  });

  it('leaves nothing behind once the limiter is empty again: the key expires', async () => {
    const key = newKey();
    const limiter = createRateLimiter({ redis: admin, key, ratePerS: 10, burst: 2 });
    await limiter.acquire();
    const ttl = await admin.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    // TAT is one interval (100 ms) ahead of the admission; the key lives that long and a millisecond more.
    expect(ttl).toBeLessThanOrEqual(101);
  });

  it('stops waiting when its signal aborts', async () => {
    const limiter = createRateLimiter({ redis: admin, key: newKey(), ratePerS: 0.01, burst: 1 });
    await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
  });

  it('refuses a rate or burst that cannot be met', () => {
    expect(() => createRateLimiter({ redis: admin, key: newKey(), ratePerS: 0, burst: 1 })).toThrow(RangeError);
    expect(() => createRateLimiter({ redis: admin, key: newKey(), ratePerS: 5, burst: 0 })).toThrow(RangeError);
  });
});
