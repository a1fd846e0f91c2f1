import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { partitionKeys, streamKey } from '../../src/shared/pipeline/topology.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createRedisClient, waitUntilReady, type Redis } from '../../src/shared/runtime/redis.ts';
import { createConsumer, type BatchItem } from '../../src/shared/streams/consumer.ts';
import { retryBacklog } from '../../src/shared/streams/delayed-retries.ts';
import { jitterBounds } from '../../src/shared/streams/retry-schedule.ts';
import { combineConsumers } from '../../src/shared/worker/partitioned-consumer.ts';
import { captureLines } from '../helpers/log-capture.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { startRedisCluster, type RedisClusterUnderTest } from '../helpers/redis-cluster.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(120_000);

/**
 * The consumer with a retry schedule on a real Redis Cluster (3 masters, 3 replicas, started once for
 * this file), one consumer per partition as a worker runs them (partitioned-consumer.ts): every park and
 * release is a script over a partition's stream and its delayed sets, which the cluster runs only when
 * they share a slot, and the partitions' slots live on different nodes.
 */
const PARTITIONS = 6;
const GROUP = 'payment-service';
const SCHEDULE = [300, 600];
/** Each entry fails this many attempts, then succeeds: every step of the schedule is waited once. */
const FAILING_ATTEMPTS = SCHEDULE.length;
const ENTRIES_PER_PARTITION = 10;

let cluster: RedisClusterUnderTest;
let admin: Redis;
const connections: Redis[] = [];
const prefix = uniquePrefix('cluster-consumer-retries');
const logs = captureLines();
const log = createLogger({ service: 'test', level: 'info', destination: logs.stream });

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, nodeTimeoutMs: 1500 });
  admin = connect('test-admin');
  await waitFor(() => waitUntilReady(admin, 1000), { timeoutMs: 20_000, what: 'the cluster client to load the slot map' });
});
afterAll(async () => {
  for (const connection of connections) connection.disconnect();
  await cluster?.destroy();
});

/** A cluster client as the workers make them (createRedisClient with REDIS_CLUSTER_NODES). */
function connect(connectionName: string): Redis {
  const connection = createRedisClient({ url: 'redis://127.0.0.1:6379/0', clusterNodes: cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })) }, { connectionName, log });
  connections.push(connection);
  return connection;
}

describe('a consumer with a retry schedule on a Redis Cluster, over several partitions', () => {
  it('runs each failing entry again after each step of its schedule, in its own partition: none lost, none dead-lettered, the delayed sets empty after', async () => {
    const partitions = partitionKeys(prefix, 'jobs', PARTITIONS);
    // The partitions' slots are served by more than one master: the test crosses nodes.
    const masters = new Set(await Promise.all(partitions.map(async ({ key }) => (await cluster.masterFor(key)).port)));
    expect(masters.size).toBeGreaterThan(1);

    /** Every attempt of every entry (`p:n`): when it ran, and which attempt the consumer said it was. */
    const attempts = new Map<string, { attempt: number; at: number }[]>();
    const handleBatch = async (batch: BatchItem<{ key: string }>[]) => {
      const failed: { id: string; error: unknown }[] = [];
      for (const { message, meta } of batch) {
        const attempt = meta.attempt ?? 1;
        const seen = attempts.get(message.key) ?? [];
        attempts.set(message.key, [...seen, { attempt, at: Date.now() }]);
        if (attempt <= FAILING_ATTEMPTS) failed.push({ id: meta.id, error: new Error(`issuer timed out for ${message.key} (attempt ${attempt})`) });
      }
      return { failed };
    };

    const redis = connect('test-commands');
    const consumer = combineConsumers(
      partitions.map(({ partition, key }) => ({
        partition,
        group: GROUP,
        consumer: createConsumer<{ key: string }>({
          redis,
          // One blocking connection per partition, as run-worker.ts gives each: a blocked XREADGROUP holds its node's connection.
          blockingRedis: connect(`test-read${partition}`),
          stream: key,
          group: GROUP,
          consumerName: 'cluster-retries',
          deadLetterStream: streamKey(prefix, 'jobs.dlq', partition ?? undefined),
          deadLetterMaxLen: 1000,
          decode: (fields) => ({ key: fields.key ?? '' }),
          handleBatch,
          log,
          concurrency: 8,
          batchSize: 4,
          blockMs: 200,
          claimIdleMs: 10_000,
          maxDeliveries: 3,
          retrySchedule: SCHEDULE,
          retryPollMs: 50,
        }),
      })),
    );
    void consumer.start();
    try {
      const keys: string[] = [];
      for (const { partition, key } of partitions) {
        for (let n = 0; n < ENTRIES_PER_PARTITION; n++) {
          keys.push(`${partition}:${n}`);
          await admin.xadd(key, '*', 'key', `${partition}:${n}`);
        }
      }

      // While they wait, every partition's own delayed set holds its entries (not one shared set).
      const waitedIn = new Set<number>();
      await waitFor(
        async () => {
          for (const { partition, key } of partitions) {
            if ((await retryBacklog(admin, { stream: key, group: GROUP })).waiting > 0) waitedIn.add(partition!);
          }
          return keys.every((key) => attempts.get(key)?.length === FAILING_ATTEMPTS + 1);
        },
        { what: `all ${keys.length} entries to succeed on attempt ${FAILING_ATTEMPTS + 1}`, timeoutMs: 30_000, intervalMs: 50 },
      );
      expect([...waitedIn].sort()).toEqual(partitions.map(({ partition }) => partition!));

      for (const key of keys) {
        const runs = attempts.get(key)!;
        // Each attempt once, in order: none lost, none run twice.
        expect(runs.map(({ attempt }) => attempt)).toEqual([1, 2, 3]);
        // And none before its step, jittered down (Redis's clock and ours are one machine's).
        for (let i = 1; i < runs.length; i++) expect(runs[i]!.at - runs[i - 1]!.at).toBeGreaterThanOrEqual(jitterBounds(SCHEDULE[i - 1]!).min - 20);
      }

      await waitFor(
        async () => {
          for (const { key } of partitions) {
            const [pending] = (await admin.xpending(key, GROUP)) as [number];
            if (Number(pending) !== 0) return false;
          }
          return true;
        },
        { what: 'every entry acknowledged in every partition' },
      );
      for (const { partition, key } of partitions) {
        expect(await retryBacklog(admin, { stream: key, group: GROUP })).toEqual({ waiting: 0, nextDueAt: undefined, oldestSince: undefined });
        expect(await admin.xlen(streamKey(prefix, 'jobs.dlq', partition ?? undefined))).toBe(0);
      }
      expect(consumer.status()).toMatchObject({ deadLettered: 0, processed: keys.length });
    } finally {
      await consumer.stop(2000);
    }
  });
});
