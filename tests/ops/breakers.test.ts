import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import Redis from 'ioredis';
import { BREAKER_REPORT_TTL_MS, breakersKey, readBreakerStates, reportBreakerState } from '../../src/shared/ops/breakers.ts';
import { startPrivateRedis, uniquePrefix } from '../helpers/redis.ts';

// A Redis of its own: the test reads the server's command statistics, which other test files would disturb.
let server: Awaited<ReturnType<typeof startPrivateRedis>>;
let redis: Redis;

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 3 });
});
afterAll(async () => {
  redis.disconnect();
  await server.destroy();
});

/** How many times the server ran each command since the last reset. */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  return Object.fromEntries([...info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)].map(([, name, calls]) => [name!, Number(calls)]));
}

async function redisNowMs(): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

describe('breaker states for the operations page', () => {
  it('are read from one known hash, never by scanning the keyspace', async () => {
    const prefix = uniquePrefix('breakers');
    // Other keys in the same Redis (other deployments, streams) are none of the reader's business.
    for (let i = 0; i < 50; i++) await redis.set(`${prefix}noise:${i}`, 'x');
    await reportBreakerState(redis, prefix, 'payment-a', 'closed');
    await reportBreakerState(redis, prefix, 'payment-b', 'open');
    await redis.config('RESETSTAT');

    expect(await readBreakerStates(redis, prefix)).toEqual({ 'payment-a': 'closed', 'payment-b': 'open' });
    const calls = await commandCalls();
    expect(calls.scan ?? 0).toBe(0);
    expect(calls.keys ?? 0).toBe(0);
    expect(calls.hgetall).toBe(1);
    expect(Object.keys(await redis.hgetall(breakersKey(prefix))).toSorted()).toEqual(['payment-a', 'payment-b']);
  });

  it('keep a field per worker with its state and time, and the hash expires once nobody reports', async () => {
    const prefix = uniquePrefix('breakers');
    const before = await redisNowMs();
    await reportBreakerState(redis, prefix, 'payment-a', 'half-open');
    const stored = JSON.parse((await redis.hget(breakersKey(prefix), 'payment-a'))!);
    expect(stored.state).toBe('half-open');
    expect(stored.at).toBeGreaterThanOrEqual(before);
    const ttl = await redis.pttl(breakersKey(prefix));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(BREAKER_REPORT_TTL_MS);
  });

  it('drop a worker that stopped reporting, from the answer and from the hash', async () => {
    const prefix = uniquePrefix('breakers');
    await reportBreakerState(redis, prefix, 'payment-live', 'closed');
    const long = (await redisNowMs()) - BREAKER_REPORT_TTL_MS - 1000;
    await redis.hset(breakersKey(prefix), 'payment-gone', JSON.stringify({ state: 'open', at: long }), 'payment-garbled', 'not json');

    expect(await readBreakerStates(redis, prefix)).toEqual({ 'payment-live': 'closed' });
    expect(Object.keys(await redis.hgetall(breakersKey(prefix)))).toEqual(['payment-live']);
  });

  it('are empty when no worker ever reported', async () => {
    expect(await readBreakerStates(redis, uniquePrefix('breakers'))).toEqual({});
  });
});
