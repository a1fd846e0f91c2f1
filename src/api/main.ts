import { sql } from 'drizzle-orm';
import { createDb } from '../shared/db/client.ts';
import { seedMenu } from '../shared/db/seed.ts';
import { createLogger } from '../shared/log.ts';
import { createMetrics } from '../shared/metrics.ts';
import { createOutboxRelay, relaySettings } from '../shared/outbox.ts';
import { startPeriodic } from '../shared/periodic.ts';
import { reconcile } from '../shared/reconciler.ts';
import { surviveStrayConnectionErrors } from '../shared/process-guards.ts';
import { createRedis } from '../shared/redis.ts';
import { closeRedis, exitGracefullyOnSignal } from '../shared/shutdown.ts';
import { loadConfigOrExit, startOrExit } from '../shared/startup.ts';
import { createApp } from './app.ts';
import { purgeExpiredIdempotencyKeys } from './services/idempotency.ts';

const config = loadConfigOrExit(Bun.env);
const log = createLogger({ service: 'api', level: config.logLevel });
surviveStrayConnectionErrors(log);
const { db, close } = createDb(config.databaseUrl, { max: config.databasePoolSize, applicationName: 'api' });
// Redis being down at start-up is fine: orders are taken and wait in the outbox.
const redis = createRedis(config.redisUrl, { connectionName: `api:${config.consumerName}`, log });

const seeded = await startOrExit(config, () => seedMenu(db));
if (seeded > 0) log.info({ items: seeded }, 'seeded the menu');

const relay = createOutboxRelay({ db, redis, log, ...relaySettings(config) });
const reconciler = startPeriodic(
  'reconciler',
  Math.max(100, Math.min(config.reconcileAfterMs / 2, 30_000)),
  async () => {
    const reemitted = await reconcile(db, { olderThanMs: config.reconcileAfterMs });
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
    const removed = await purgeExpiredIdempotencyKeys(db, config.idempotencyKeyTtlHours);
    if (removed > 0) log.info({ removed }, 'purged expired idempotency keys');
  },
  log,
);

const app = createApp({
  db,
  log,
  config,
  metrics: createMetrics('api', { redis, db, prefix: config.streamPrefix }),
  ops: { redis, prefix: config.streamPrefix },
  outbox: relay,
  healthChecks: {
    postgres: () => db.execute(sql`select 1`),
    redis: () => redis.ping(),
  },
}).listen({ port: config.port, hostname: '0.0.0.0' });
log.info({ port: app.server?.port, docs: `http://localhost:${app.server?.port}/docs` }, 'api listening');
// Publish anything a previous run left in the outbox.
relay.kick();

exitGracefullyOnSignal(log, config.shutdownTimeoutMs, [
  () => app.stop(),
  () => Promise.all([relay.stop(), reconciler.stop(), keyPurge.stop()]),
  () => closeRedis(redis),
  () => close(),
]);
