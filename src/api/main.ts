import { sql } from 'drizzle-orm';
import { createDb } from '../shared/db/client.ts';
import { seedMenu } from '../shared/db/seed.ts';
import { createLogger } from '../shared/log.ts';
import { loadConfigOrExit, startOrExit } from '../shared/startup.ts';
import { createApp } from './app.ts';
import { purgeExpiredIdempotencyKeys } from './services/idempotency.ts';

const PURGE_EVERY_MS = 60 * 60 * 1000;
const SHUTDOWN_TIMEOUT_MS = 10_000;

const config = loadConfigOrExit(Bun.env);
const log = createLogger({ service: 'api', level: config.logLevel });
const { db, close } = createDb(config.databaseUrl);

const seeded = await startOrExit(config, () => seedMenu(db));
if (seeded > 0) log.info({ items: seeded }, 'seeded the menu');

const app = createApp({
  db,
  log,
  config,
  healthChecks: { postgres: () => db.execute(sql`select 1`) },
}).listen({ port: config.port, hostname: '0.0.0.0' });
log.info({ port: app.server?.port, docs: `http://localhost:${app.server?.port}/docs` }, 'api listening');

const purge = async () => {
  try {
    const removed = await purgeExpiredIdempotencyKeys(db, config.idempotencyKeyTtlHours);
    if (removed > 0) log.info({ removed }, 'purged expired idempotency keys');
  } catch (err) {
    // Not fatal: the rows only take space, and the next run retries.
    log.warn({ err }, 'could not purge expired idempotency keys');
  }
};
const purgeTimer = setInterval(purge, PURGE_EVERY_MS);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  clearInterval(purgeTimer);
  // In-flight requests get to finish; a stuck one cannot hold the process past the timeout.
  const forced = setTimeout(() => {
    log.error('shutdown timed out, exiting');
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS);
  await app.stop();
  await close();
  clearTimeout(forced);
  log.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
