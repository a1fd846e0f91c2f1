import { and, count, inArray, isNotNull, ne, sql } from 'drizzle-orm';
import { orders } from '../../src/shared/db/schema.ts';
import { createApp } from '../../src/api/app.ts';
import { loadConfig } from '../../src/shared/runtime/config.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { streamKey, type DeadLetterStream } from '../../src/shared/pipeline/topology.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createApiMetrics } from '../../src/api/metrics.ts';
import { registerPipelineGauges } from '../../src/shared/ops/pipeline-gauges.ts';
import { createMetricsRegistry } from '../../src/shared/runtime/metrics.ts';
import { createOutboxRelay } from '../../src/shared/pipeline/outbox.ts';
import { createRedis } from '../../src/shared/runtime/redis.ts';
import { closeRedis } from '../../src/shared/runtime/shutdown.ts';
import { postJson, readJson } from './app.ts';
import { createTestDatabase, TEST_SERVER_URL } from './db.ts';
import { captureLines } from './log-capture.ts';
import { connectRedis, deleteKeys, TEST_REDIS_URL, uniquePrefix } from './redis.ts';
import { waitFor } from './wait-for.ts';

export type OrderState = {
  status: string;
  charges: number;
  attempts: number;
  notifications: number;
};

/**
 * One test file's slice of the whole pipeline: its own database and stream prefix, the API
 * in-process with a real outbox relay, and the environment to spawn real workers against them.
 */
export async function createPipeline(
  label: string,
  { redisUrl = TEST_REDIS_URL, relayIntervalMs = 100, appEnv = {} as Record<string, string>, databaseServerUrl = TEST_SERVER_URL } = {},
) {
  const tdb = await createTestDatabase(label, { serverUrl: databaseServerUrl });
  await seedMenu(tdb.db);
  const prefix = uniquePrefix(label);
  const logs = captureLines();
  const log = createLogger({ service: 'api', level: 'info', destination: logs.stream });
  const publisherRedis = createRedis(redisUrl, { connectionName: `test-api-${label}`, log });
  const admin = connectRedis(redisUrl);
  const relay = createOutboxRelay({ db: tdb.db, redis: publisherRedis, log, streamPrefix: prefix, intervalMs: relayIntervalMs, retentionMs: 3_600_000 });
  const metrics = createApiMetrics(createMetricsRegistry('api'));
  registerPipelineGauges(metrics, { redis: publisherRedis, db: tdb.db, prefix });
  const app = createApp({
    db: tdb.db,
    log,
    config: loadConfig(appEnv).api,
    outbox: relay,
    metrics,
    ops: { redis: publisherRedis, prefix },
    healthChecks: { postgres: () => tdb.db.execute(sql`select 1`), redis: () => publisherRedis.ping() },
  });

  /** Environment for a spawned worker of this pipeline; fast timings so tests stay short. */
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    DATABASE_URL: tdb.url,
    REDIS_URL: redisUrl,
    STREAM_PREFIX: prefix,
    HEALTH_PORT: '0',
    CLAIM_IDLE_MS: '1000',
    CONSUMER_BLOCK_MS: '200',
    RELAY_INTERVAL_MS: '100',
    GATEWAY_LATENCY_MS: '5',
    GATEWAY_ERROR_RATE: '0',
    GATEWAY_DECLINE_RATE: '0',
    RETRY_BASE_DELAY_MS: '10',
    RETRY_MAX_DELAY_MS: '50',
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...extra,
  });

  async function placeOrder(email = 'pipeline@example.com', items = [{ menuItemId: 1, quantity: 1 }], headers: Record<string, string> = {}) {
    const res = await app.handle(postJson('/orders', { items, customerEmail: email }, headers));
    if (res.status !== 201) throw new Error(`POST /orders answered ${res.status}: ${await res.text()}`);
    return (await readJson(res)) as { id: string; totalCents: number };
  }

  async function orderState(orderId: string): Promise<OrderState> {
    const [row] = await tdb.db.execute<OrderState>(sql`
      select o.status::text as status,
        (select count(*)::int from gateway_charges g where g.idempotency_key = o.id::text) as charges,
        (select count(*)::int from payment_attempts p where p.order_id = o.id) as attempts,
        (select count(*)::int from notifications n where n.order_id = o.id) as notifications
      from orders o where o.id = ${orderId}`);
    return row!;
  }

  /** Waits until every order is paid or failed, and notified. */
  async function waitUntilSettled(orderIds: string[], timeoutMs = 30_000) {
    await waitFor(
      async () => {
        const [row] = await tdb.db
          .select({ n: count() })
          .from(orders)
          .where(and(inArray(orders.id, orderIds), ne(orders.status, 'processing'), isNotNull(orders.notifiedAt)));
        return row!.n === orderIds.length;
      },
      { what: `${orderIds.length} orders paid and notified`, timeoutMs },
    );
  }

  const key = (stream: string) => streamKey(prefix, stream);

  async function pending(stream: string, group: string): Promise<number> {
    try {
      const [count] = (await admin.xpending(key(stream), group)) as [number];
      return Number(count);
    } catch {
      return 0;
    }
  }

  async function deadLetters(stream: DeadLetterStream) {
    const entries = (await admin.xrange(key(stream), '-', '+')) as [string, string[]][];
    return entries.map(([id, flat]): Record<string, string> & { id: string } => ({ ...fieldsToRecord(flat), id }));
  }

  return {
    db: tdb.db,
    sql: tdb.sql,
    url: tdb.url,
    prefix,
    app,
    relay,
    admin,
    logs,
    env,
    key,
    placeOrder,
    orderState,
    waitUntilSettled,
    pending,
    deadLetters,
    async close() {
      await relay.stop();
      await closeRedis(publisherRedis);
      await deleteKeys(admin, prefix).catch(() => {});
      admin.disconnect();
      await tdb.drop();
    },
  };
}

export type Pipeline = Awaited<ReturnType<typeof createPipeline>>;
