import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import Redis from 'ioredis';
import { partitionKeys, TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { postJson } from '../helpers/app.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService } from '../helpers/processes.ts';
import { freePort } from '../helpers/redis.ts';
import { startRedisCluster, type RedisClusterUnderTest } from '../helpers/redis-cluster.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(180_000);

/**
 * The pipeline on a real Redis Cluster (3 masters, 3 replicas, started for this file) with 6
 * partitions per stream: end to end, and through a master's failover under load.
 */
const PARTITIONS = 6;
let cluster: RedisClusterUnderTest;
const pipelines: Pipeline[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, nodeTimeoutMs: 1500 });
});
afterAll(async () => {
  await killAll();
  await Promise.all(pipelines.map((p) => p.close().catch(() => {})));
  await cluster?.destroy();
});

async function clusterPipeline(label: string, appEnv: Record<string, string> = {}) {
  const pipeline = await createPipeline(label, { clusterSeeds: cluster.seeds, partitions: PARTITIONS, appEnv });
  pipelines.push(pipeline);
  return pipeline;
}

async function finalStates(pipeline: Pipeline) {
  const [row] = await pipeline.db.execute<{ orders: number; unfinished: number; doubleCharged: number; doubleNotified: number }>(sql`
    select
      (select count(*)::int from orders) as orders,
      (select count(*)::int from orders where status = 'processing' or notified_at is null) as unfinished,
      (select count(*)::int from (select idempotency_key from gateway_charges group by 1 having count(*) > 1) d) as "doubleCharged",
      (select count(*)::int from (select order_id from deliveries where channel = 'email' group by 1 having count(*) > 1) d) as "doubleNotified"`);
  return row!;
}

describe('the pipeline on a Redis Cluster with 6 partitions', () => {
  it('takes orders through every partition, each partition on its own stream, group and dead-letter stream', async () => {
    const pipeline = await clusterPipeline('cluster_e2e');
    spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-cluster' }));
    spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-cluster' }));
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push((await pipeline.placeOrder(`cluster-${i}@example.com`)).id);
    await pipeline.waitUntilSettled(ids, 60_000);

    // Every partition carried orders, and each partition's keys share one slot (the hash tag).
    const probe = cluster.nodes[0]!;
    const admin = new Redis({ port: probe.port, host: '127.0.0.1' });
    try {
      for (const { partition, key } of partitionKeys(pipeline.prefix, TOPOLOGY.OrderPlaced.stream, PARTITIONS)) {
        expect(Number(await pipeline.admin.xlen(key))).toBeGreaterThan(0);
        const slots = await Promise.all(
          [TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.deadLetterStream, TOPOLOGY.CustomerEmail.stream].map((stream) =>
            admin.cluster('KEYSLOT', `${pipeline.prefix}${stream}:{${partition}}`),
          ),
        );
        expect(new Set(slots).size).toBe(1);
      }
    } finally {
      admin.disconnect();
    }
    expect(await finalStates(pipeline)).toEqual({ orders: 60, unfinished: 0, doubleCharged: 0, doubleNotified: 0 });
    expect(await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)).toBe(0);

    // The ops report has a row per partition and totals.
    const summary = (await (await pipeline.app.handle(new Request('http://localhost/ops/summary'))).json()) as {
      streams: { partition: number | null }[];
      totals: { stream: string; partitions: number; length: number }[];
    };
    expect(summary.streams.filter((s) => s.partition !== null)).toHaveLength(PARTITIONS * 2);
    expect(summary.totals.find((t) => t.stream === TOPOLOGY.OrderPlaced.stream)).toMatchObject({ partitions: PARTITIONS, length: 60 });
  });

  // Needs replicas that have synced once, which startRedisCluster waits for: a replica that never did
  // refuses to take over, and the dead master's slots stay down for good (CLUSTERDOWN everywhere).
  it('survives a master SIGKILLed under load: every accepted order final, none charged twice, each notified once, nothing pending', async () => {
    // The reconciler covers a tail lost to asynchronous replication; short timings so it acts within the test.
    const pipeline = await clusterPipeline('cluster_failover');
    const env = pipeline.env({ RECONCILE_AFTER_MS: '3000', OUTBOX_RETENTION_MS: '3000', CLAIM_IDLE_MS: '1000' });
    const apiPort = await freePort();
    const services = [
      spawnService('api', { ...env, PORT: String(apiPort) }),
      spawnService('payment', { ...env, CONSUMER_NAME: 'payment-failover-1' }),
      spawnService('payment', { ...env, CONSUMER_NAME: 'payment-failover-2' }),
      spawnService('notify', { ...env, CONSUMER_NAME: 'notify-failover' }),
    ];
    await waitFor(async () => (await fetch(`http://127.0.0.1:${apiPort}/health`).catch(() => undefined))?.status === 200, { what: 'the api', timeoutMs: 30_000 });

    const accepted: string[] = [];
    let placing = true;
    const placer = (async () => {
      for (let i = 0; placing; i++) {
        const res = await fetch(
          `http://127.0.0.1:${apiPort}/orders`,
          postJson('/orders', { items: [{ menuItemId: 2, quantity: 1 }], customerEmail: `failover-${i}@example.com` }, { 'idempotency-key': `failover-${i}` }),
        ).catch(() => undefined);
        if (res?.status === 201) accepted.push(((await res.json()) as { id: string }).id);
        await Bun.sleep(20);
      }
    })();

    await waitFor(() => accepted.length >= 40, { what: '40 orders accepted before the failover', timeoutMs: 30_000 });
    // The master serving partition 0 of orders.placed dies; its replica is promoted by the cluster.
    const victimKey = `${pipeline.prefix}${TOPOLOGY.OrderPlaced.stream}:{0}`;
    const victim = await cluster.masterFor(victimKey);
    await cluster.kill(victim);
    const before = accepted.length;
    // The replica must own the slot first: right after the kill every node still says ok, none has noticed yet.
    await waitFor(
      async () => {
        if ((await cluster.masterFor(victimKey)) === victim) return false;
        for (const node of cluster.nodes.filter((n) => n !== victim)) {
          if ((await cluster.clusterInfo(node.port).catch(() => ({}) as Record<string, string>))['cluster_state'] !== 'ok') return false;
        }
        return true;
      },
      { what: 'the replica promoted and the cluster ok again', timeoutMs: 30_000 },
    );
    await waitFor(() => accepted.length >= before + 40, { what: '40 more orders accepted after the failover', timeoutMs: 30_000 });
    placing = false;
    await placer;

    await pipeline.waitUntilSettled(accepted, 90_000).catch(async (error) => {
      // What is stuck, to read when this fails.
      const [stuck] = await pipeline.db.execute<{ processing: number; unnotified: number; outbox: number }>(sql`
        select (select count(*)::int from orders where status = 'processing') as processing,
               (select count(*)::int from orders where notified_at is null) as unnotified,
               (select count(*)::int from outbox where published_at is null) as outbox`);
      console.log('stuck:', JSON.stringify(stuck));
      for (const service of services) {
        console.log(service.name, service.lines.filter((l) => l.level === 'warn' || l.level === 'error').slice(-6).map((l) => `${l.msg} ${JSON.stringify(l.err ?? '').slice(0, 200)}`));
      }
      throw error;
    });
    const states = await finalStates(pipeline);
    expect(states).toMatchObject({ unfinished: 0, doubleCharged: 0, doubleNotified: 0 });
    expect(states.orders).toBe(accepted.length);
    await waitFor(async () => (await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)) === 0, {
      what: 'nothing left pending for payment',
      timeoutMs: 30_000,
    });
    await waitFor(async () => (await pipeline.pending(TOPOLOGY.CustomerEmail.stream, TOPOLOGY.CustomerEmail.group)) === 0, {
      what: 'nothing left pending for notify',
      timeoutMs: 30_000,
    });
  });

  it('refuses to start, naming REDIS_CLUSTER_NODES, when the seeds are not a cluster', async () => {
    const pipeline = await clusterPipeline('cluster_misconfigured');
    // A plain Redis (the tests' own, no cluster support) given as a cluster seed.
    const worker = spawnService('payment', pipeline.env({ REDIS_CLUSTER_NODES: '127.0.0.1:6379', CONSUMER_NAME: 'payment-misconfigured' }));
    expect(await worker.proc.exited).toBe(1);
    await waitFor(() => worker.stderr.some((line) => line.includes('REDIS_CLUSTER_NODES=127.0.0.1:6379')), { what: 'the error naming the setting' });
    expect(worker.stderr.join('\n')).toMatch(/cluster support/);
  });
});
