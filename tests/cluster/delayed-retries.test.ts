import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { Cluster } from 'ioredis';
import { park, releaseDue, retryBacklog } from '../../src/shared/streams/delayed-retries.ts';
import { createRateLimiter } from '../../src/shared/streams/rate-limiter.ts';
import { readRetryFields } from '../../src/shared/streams/retry-fields.ts';
import { delayedRetryKeys } from '../../src/shared/streams/retry-keys.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';
import { startRedisCluster, type RedisClusterUnderTest } from '../helpers/redis-cluster.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(120_000);

/**
 * Delayed retries and the shared rate limit on a real Redis Cluster (3 masters, 3 replicas, started
 * for this file): each script touches the stream and its delayed sets together, which a cluster
 * allows only when they share a slot.
 */
let cluster: RedisClusterUnderTest;
let redis: Cluster;
const prefix = uniquePrefix('cluster-retries');
const GROUP = 'payment-service';

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, nodeTimeoutMs: 1500 });
  redis = new Cluster(cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })), { redisOptions: { maxRetriesPerRequest: 3 } });
  await waitFor(() => redis.status === 'ready', { timeoutMs: 20_000, what: 'the cluster client to load the slot map' });
});
afterAll(async () => {
  redis?.disconnect();
  await cluster?.destroy();
});

describe('delayed retries on a Redis Cluster', () => {
  // A partitioned stream key as topology.ts builds it, and (for completeness) one without a tag.
  for (const stream of [`${prefix}orders.placed:{5}`, `${prefix}orders.plain`]) {
    it(`keeps ${stream.slice(prefix.length)} and its delayed sets in one slot, and parks and releases there`, async () => {
      const keys = delayedRetryKeys(stream, GROUP);
      const slots = await Promise.all([stream, keys.due, keys.since].map((key) => redis.cluster('KEYSLOT', key)));
      expect(new Set(slots).size).toBe(1);

      await redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
      const ids: string[] = [];
      for (let n = 0; n < 20; n++) ids.push((await redis.xadd(stream, '*', 'orderId', `o-${n}`))!);
      const reply = (await redis.xreadgroup('GROUP', GROUP, 'c1', 'COUNT', 20, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
      for (const [id, flat] of reply[0]![1]) {
        const parked = await park(redis, {
          stream,
          group: GROUP,
          consumer: 'c1',
          id,
          fields: fieldsToRecord(flat),
          attempt: 1,
          firstFailedAt: 1000,
          history: [{ at: 1000, reason: 'declined: try later' }],
          dueAt: Date.now() + 200,
        });
        expect(parked).toBe(true);
      }
      expect((await retryBacklog(redis, { stream, group: GROUP })).waiting).toBe(20);

      let moved = 0;
      await waitFor(async () => (moved += (await releaseDue(redis, { stream, group: GROUP, limit: 8 })).moved) === 20, { timeoutMs: 10_000, what: 'every retry to come back' });
      const back = (await redis.xreadgroup('GROUP', GROUP, 'c1', 'COUNT', 100, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
      const originals = back[0]![1].map(([, flat]) => readRetryFields(fieldsToRecord(flat)).retry?.originalId);
      expect(originals.sort()).toEqual([...ids].sort());
      expect(await retryBacklog(redis, { stream, group: GROUP })).toEqual({ waiting: 0, nextDueAt: undefined, oldestSince: undefined });
    });
  }

  it('shares one rate limit through the cluster', async () => {
    const limiter = createRateLimiter({ redis, key: `${prefix}ratelimit:{gateway}`, ratePerS: 1, burst: 2 });
    expect([await limiter.tryAcquire(), await limiter.tryAcquire()]).toEqual([0, 0]);
    expect(await limiter.tryAcquire()).toBeGreaterThan(0);
  });
});
