import { and, count, inArray, isNotNull, ne, sql } from 'drizzle-orm';
import { orders } from '../../src/shared/db/schema.ts';
import { createApp } from '../../src/api/app.ts';
import { loadConfig } from '../../src/shared/runtime/config.ts';
import { partitionKeys, streamKey, type DeadLetterStream } from '../../src/shared/pipeline/topology.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createApiMetrics } from '../../src/api/metrics.ts';
import { registerPipelineGauges } from '../../src/shared/ops/pipeline-gauges.ts';
import { createMetricsRegistry } from '../../src/shared/runtime/metrics.ts';
import { createOutboxRelay } from '../../src/shared/pipeline/outbox.ts';
import { createOutboxWriter } from '../../src/shared/pipeline/outbox-writer.ts';
import { Cluster } from 'ioredis';
import { createRedisClient, waitUntilReady, type Redis } from '../../src/shared/runtime/redis.ts';
import { closeRedis } from '../../src/shared/runtime/shutdown.ts';
import { startSystem } from '../../scripts/lib/start-system.ts';
import { postJson, readJson } from './app.ts';
import { TEST_SERVER_URL } from './db.ts';
import { captureLines } from './log-capture.ts';
import { spawnService } from './processes.ts';
import { connectRedis, TEST_REDIS_URL } from './redis.ts';
import { waitFor } from './wait-for.ts';

export type OrderState = {
  status: string;
  charges: number;
  attempts: number;
  /** E-mails the customer's mail server accepted, as the notify worker recorded them (deliveries `email`, `sent`). */
  notifications: number;
};

/** Fast timings for a spawned service of a test pipeline, so tests stay short. */
const FAST_TIMINGS: Record<string, string> = {
  CLAIM_IDLE_MS: '1000',
  CONSUMER_BLOCK_MS: '200',
  RELAY_INTERVAL_MS: '100',
  // The in-process gateway, unless a test brings a provider (tests/pipeline/stripe-*.test.ts run the Stripe sandbox).
  PAYMENT_PROVIDER: 'mock',
  GATEWAY_LATENCY_MS: '5',
  GATEWAY_ERROR_RATE: '0',
  GATEWAY_DECLINE_RATE: '0',
  RETRY_BASE_DELAY_MS: '10',
  RETRY_MAX_DELAY_MS: '50',
  SHUTDOWN_TIMEOUT_MS: '5000',
  // An e-mail attempt holds its delivery this long (plus a margin) when its worker dies mid-send.
  SMTP_TIMEOUT_MS: '5000',
};

/**
 * One test file's slice of the whole pipeline: a system of its own (database, stream prefix, real
 * workers through `spawn` or `env`), plus the API in-process with a real outbox relay.
 */
export async function createPipeline(
  label: string,
  {
    redisUrl = TEST_REDIS_URL,
    relayIntervalMs = 100,
    appEnv = {} as Record<string, string>,
    databaseServerUrl = TEST_SERVER_URL,
    /** REDIS_CLUSTER_NODES: the pipeline runs on that Redis Cluster. */
    clusterSeeds = undefined as string | undefined,
    /** STREAM_PARTITIONS. */
    partitions = 1,
  } = {},
) {
  const clusterEnv: Record<string, string> = { STREAM_PARTITIONS: String(partitions), ...(clusterSeeds ? { REDIS_CLUSTER_NODES: clusterSeeds } : {}) };
  const system = await startSystem({ label: `test_${label}`, databaseServerUrl, redisUrl, env: { ...FAST_TIMINGS, ...clusterEnv }, spawnService, stopTimeoutMs: 10_000 });
  const { database, prefix } = system;
  const logs = captureLines();
  const log = createLogger({ service: 'api', level: 'info', destination: logs.stream });
  const target = { url: redisUrl, clusterNodes: clusterSeeds ? loadConfig({ REDIS_CLUSTER_NODES: clusterSeeds, STREAM_PARTITIONS: String(partitions) }).redisClusterNodes : undefined };
  const publisherRedis = createRedisClient(target, { connectionName: `test-api-${label}`, log });
  const admin: Redis = target.clusterNodes ? new Cluster([...target.clusterNodes], { redisOptions: { maxRetriesPerRequest: 3 } }) : connectRedis(redisUrl);
  admin.on('error', () => {});
  // A cluster client has to load its slot map before the first command.
  if (target.clusterNodes) await waitUntilReady(publisherRedis, 10_000);
  const relay = createOutboxRelay({ db: database.db, redis: publisherRedis, log, streamPrefix: prefix, intervalMs: relayIntervalMs, retentionMs: 3_600_000, partitions });
  const metrics = createApiMetrics(createMetricsRegistry('api'));
  registerPipelineGauges(metrics, { redis: publisherRedis, db: database.db, prefix, partitions });
  const app = createApp({
    db: database.db,
    log,
    config: loadConfig(appEnv).api,
    outbox: createOutboxWriter({ relay }),
    metrics,
    ops: { redis: publisherRedis, prefix, partitions },
    healthChecks: { postgres: () => database.db.execute(sql`select 1`), redis: () => publisherRedis.ping() },
  });

  async function placeOrder(email = 'pipeline@example.com', items = [{ menuItemId: 1, quantity: 1 }], headers: Record<string, string> = {}) {
    const res = await app.handle(postJson('/orders', { items, customerEmail: email }, headers));
    if (res.status !== 201) throw new Error(`POST /orders answered ${res.status}: ${await res.text()}`);
    return (await readJson(res)) as { id: string; totalCents: number };
  }

  async function orderState(orderId: string): Promise<OrderState> {
    const [row] = await database.db.execute<OrderState>(sql`
      select o.status::text as status,
        (select count(*)::int from gateway_charges g where g.idempotency_key = o.id::text) as charges,
        (select count(*)::int from payment_attempts p where p.order_id = o.id) as attempts,
        (select count(*)::int from deliveries d where d.order_id = o.id and d.channel = 'email' and d.status = 'sent') as notifications
      from orders o where o.id = ${orderId}`);
    return row!;
  }

  /** Waits until every order is paid or failed, and notified. */
  async function waitUntilSettled(orderIds: string[], timeoutMs = 30_000) {
    await waitFor(
      async () => {
        const [row] = await database.db
          .select({ n: count() })
          .from(orders)
          .where(and(inArray(orders.id, orderIds), ne(orders.status, 'processing'), isNotNull(orders.notifiedAt)));
        return row!.n === orderIds.length;
      },
      { what: `${orderIds.length} orders paid and notified`, timeoutMs },
    );
  }

  /** A stream's key (with partitions: partition 0's, or the one given). */
  const key = (stream: string, partition?: number) => streamKey(prefix, stream, partitions > 1 ? (partition ?? 0) : undefined);
  const keys = (stream: string) => partitionKeys(prefix, stream, partitions).map((entry) => entry.key);

  /** Pending entries of a group, over every partition. */
  async function pending(stream: string, group: string): Promise<number> {
    let total = 0;
    for (const streamKey of keys(stream)) {
      try {
        const [count] = (await admin.xpending(streamKey, group)) as [number];
        total += Number(count);
      } catch {
        // No such stream or group yet.
      }
    }
    return total;
  }

  /** The entries of a dead-letter stream, over every partition. */
  async function deadLetters(stream: DeadLetterStream) {
    const all: (Record<string, string> & { id: string })[] = [];
    for (const streamKey of keys(stream)) {
      const entries = (await admin.xrange(streamKey, '-', '+')) as [string, string[]][];
      all.push(...entries.map(([id, flat]) => ({ ...fieldsToRecord(flat), id })));
    }
    return all;
  }

  async function close() {
    try {
      await relay.stop();
      await closeRedis(publisherRedis);
    } finally {
      admin.disconnect();
      await system.stop();
    }
  }

  return {
    db: database.db,
    sql: database.sql,
    url: database.url,
    prefix,
    app,
    relay,
    admin,
    logs,
    /** Environment for a spawned worker of this pipeline (fast timings; HEALTH_PORT=0 unless given). */
    env: system.env,
    /** Starts a real service on a free port and waits for its /health (`{ ready: false }`: does not wait); killAll() stops it too. */
    spawn: system.spawn,
    system,
    key,
    placeOrder,
    orderState,
    waitUntilSettled,
    pending,
    deadLetters,
    close,
    [Symbol.asyncDispose]: close,
  };
}

export type Pipeline = Awaited<ReturnType<typeof createPipeline>>;
