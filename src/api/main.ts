import { sql } from 'drizzle-orm';
import { createDb } from '../shared/db/client.ts';
import { seedMenu } from '../shared/db/seed.ts';
import { startLogAndTracing } from '../shared/runtime/log-and-tracing.ts';
import { createMetricsRegistry } from '../shared/runtime/metrics.ts';
import { registerPipelineGauges } from '../shared/ops/pipeline-gauges.ts';
import { createApiMetrics } from './metrics.ts';
import { createOutboxRelay } from '../shared/pipeline/outbox.ts';
import { createOutboxWriter } from '../shared/pipeline/outbox-writer.ts';
import { startPeriodic } from '../shared/runtime/periodic.ts';
import { reconcile } from '../shared/pipeline/reconciler.ts';
import { surviveStrayConnectionErrors } from '../shared/runtime/process-guards.ts';
import { createShutdownFlag } from '../shared/runtime/probes.ts';
import { assertClusterReady, createRedisClient, waitUntilReady } from '../shared/runtime/redis.ts';
import { closeRedis, exitGracefullyOnSignal } from '../shared/runtime/shutdown.ts';
import { exitWith, loadConfigOrExit, startOrExit } from '../shared/runtime/startup.ts';
import { createApp } from './app.ts';
import { purgeExpiredIdempotencyKeys } from './services/idempotency.ts';
import { createOrderChangeFeed, createOrderChanges } from '../shared/pipeline/order-changes.ts';
import { withDbRetry } from './services/db-retry.ts';
import { createOrderReads } from './services/get-order.ts';
import { createOrderFollowers } from './services/order-followers.ts';

const config = loadConfigOrExit(Bun.env);
const { log, tracing } = startLogAndTracing({ service: 'api', level: config.logLevel, tracing: config.tracing });
surviveStrayConnectionErrors(log);
const { db, close } = createDb(config.database.url, { max: config.database.poolSize, connectTimeoutSeconds: config.database.connectTimeoutSeconds, statementTimeoutMs: config.database.statementTimeoutMs, applicationName: 'api' });
// Redis being down at start-up is fine: orders are taken and wait in the outbox.
const redisTarget = { url: config.redisUrl, clusterNodes: config.redisClusterNodes };
const redis = createRedisClient(redisTarget, { connectionName: `api:${config.consumer.consumerName}`, log, commandTimeoutMs: config.redisCommandTimeoutMs });
// A misconfigured cluster is said at once, naming the setting; a single Redis may come later.
await assertClusterReady(redis, redisTarget).catch((error: Error) => exitWith(error.message));

const seeded = await startOrExit(config, () => seedMenu(db));
if (seeded > 0) log.info({ items: seeded }, 'seeded the menu');

const relay = createOutboxRelay({ db, redis, log, streamPrefix: config.streamPrefix, tracing, ...config.relay });
const reconciler = startPeriodic(
  'reconciler',
  Math.max(100, Math.min(config.reconciler.olderThanMs / 2, 30_000)),
  async () => {
    const reemitted = await reconcile(db, { ...config.reconciler, tracing });
    if (reemitted.orderPlaced + reemitted.paymentCompleted > 0) {
      log.warn({ ...reemitted }, 're-emitted events for stalled orders');
      relay.kick();
    }
  },
  log,
);
const keyPurge = startPeriodic(
  'idempotency key purge',
  60 * 60 * 1000,
  async () => {
    const removed = await purgeExpiredIdempotencyKeys(db, config.api.idempotencyKeyTtlHours, { batchSize: 1000 });
    if (removed > 0) log.info({ removed }, 'purged expired idempotency keys');
  },
  log,
);
// At start-up too: an API that restarts more often than hourly (deploys, crashes) would otherwise never purge.
void keyPurge.runNow();

const metrics = createApiMetrics(createMetricsRegistry('api'));
registerPipelineGauges(metrics, { redis, db, prefix: config.streamPrefix, partitions: config.partitions.count });

// GET /orders/{id}/events: one reader of orders.changed for the whole process, on a connection of its
// own (it blocks in XREAD), fanning out to every stream open here. Their reads (every followed order a
// batch of changes touched, one round at a time) get a PostgreSQL connection of their own too, so a
// burst of them never queues the requests, and index lookups only (see DbOptions.indexLookupsOnly).
const streamsDb = createDb(config.database.url, {
  max: 1,
  connectTimeoutSeconds: config.database.connectTimeoutSeconds,
  statementTimeoutMs: config.database.statementTimeoutMs,
  applicationName: 'api-streams',
  indexLookupsOnly: true,
});
const streamReads = createOrderReads(streamsDb.db);
const orderFollowers = createOrderFollowers({
  read: (orderIds) => withDbRetry(() => streamReads.findOrders(orderIds), config.api.dbRetry),
  maxConnections: config.api.orderEvents.maxConnections,
  keepAliveMs: config.api.orderEvents.keepAliveMs,
  telling: { restaurantWebhook: config.api.orderEvents.restaurantWebhook },
  log,
  onCount: (open) => metrics.orderEventStreams.set(open),
  onChangeSent: (delaySeconds) => metrics.orderEventDelay.observe(delaySeconds),
});
const changesRedis = createRedisClient(redisTarget, { connectionName: `api:${config.consumer.consumerName}:changes`, log, commandTimeoutMs: config.redisCommandTimeoutMs, blockMs: config.consumer.blockMs });
const orderChangeFeed = createOrderChangeFeed({
  redis: changesRedis,
  prefix: config.streamPrefix,
  blockMs: config.consumer.blockMs,
  log,
  onChanged: (orderIds) => orderFollowers.changed(orderIds),
  onResumed: () => orderFollowers.resync(),
});
// Once connected, so a start-up is not logged as an outage; a Redis that is away is ridden out like any outage.
void waitUntilReady(changesRedis, 5000).then(() => orderChangeFeed.start());

const shutdown = createShutdownFlag();
const app = createApp({
  db,
  log,
  config: config.api,
  metrics,
  ops: { redis, prefix: config.streamPrefix, partitions: config.partitions.count },
  outbox: createOutboxWriter({ tracing, relay }),
  healthChecks: {
    // The streams' connection too: it is PostgreSQL as well, and the first probe opens it before the first client needs it.
    postgres: () => Promise.all([db.execute(sql`select 1`), streamsDb.db.execute(sql`select 1`)]),
    redis: () => redis.ping(),
  },
  // Redis away does not stop the API taking orders (they wait in the outbox), so it must not take it out of rotation.
  readinessChecks: { postgres: () => db.execute(sql`select 1`) },
  shutdown,
  tracing,
  orderFollowers,
  orderChanges: createOrderChanges({ redis, prefix: config.streamPrefix, log }),
}).listen({ port: config.api.port, hostname: '0.0.0.0' });
log.info({ port: app.server?.port, docs: `http://localhost:${app.server?.port}/docs` }, 'api listening');
// Publish anything a previous run left in the outbox.
relay.kick();

exitGracefullyOnSignal(log, config.shutdownTimeoutMs, [
  // First, so a probe that gets through before the server closes says so.
  async () => shutdown.request(),
  // Before the server stops: it waits for open responses, and a stream would never end by itself.
  async () => orderFollowers.close(),
  () => app.stop(),
  () => Promise.all([relay.stop(), reconciler.stop(), keyPurge.stop(), orderChangeFeed.stop()]),
  () => closeRedis(redis),
  () => Promise.all([close(), streamsDb.close()]),
  // Last, so the spans of the requests that finished while stopping go out too.
  () => tracing.shutdown(),
]);
