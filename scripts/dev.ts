/**
 * `bun run dev`: makes sure PostgreSQL and Redis answer (starting private throwaway ones under
 * .data/ when nothing runs and the binaries are installed), prepares the database (create,
 * migrate, seed), then runs the API and both workers with prefixed output; Ctrl-C stops it all.
 */
import { createDb } from '../src/shared/db/client.ts';
import { redactUrl } from '../src/shared/db/connection-error.ts';
import { ensureDatabase, migrateDatabase } from '../src/shared/db/migrate.ts';
import { seedMenu } from '../src/shared/db/seed.ts';
import { exitWith, loadConfigOrExit, startOrExit } from '../src/shared/runtime/startup.ts';
import { reachable, startPrivatePostgres, startPrivateRedis, stopPrivate, type PrivateService } from './lib/private-services.ts';
import { superviseAll, type ServiceSpec } from './lib/supervise.ts';

const SERVICES: ServiceSpec[] = [
  { name: 'api', entry: 'src/api/main.ts' },
  { name: 'payment', entry: 'src/payment/main.ts' },
  { name: 'notify', entry: 'src/notify/main.ts' },
];

const config = loadConfigOrExit(Bun.env);
const dataDir = Bun.env.DEV_DATA_DIR ?? '.data';
const privateServices: PrivateService[] = [];

async function ensureRunning(what: string, url: string, defaultPort: number, start: typeof startPrivateRedis) {
  if (await reachable(url, defaultPort)) return;
  const started = await start(url, dataDir).catch((error: Error) => `Starting a private one failed: ${error.message}`);
  if (typeof started === 'string') {
    await stopPrivate(privateServices);
    exitWith(`Nothing answers at ${redactUrl(url)} (${what}). ${started}`);
  }
  privateServices.push(started);
  console.log(`[dev] nothing answered at ${redactUrl(url)}: started a private ${what} under ${dataDir}/${started.name}`);
}

await ensureRunning('PostgreSQL', config.database.url, 5432, startPrivatePostgres);
await ensureRunning('Redis', config.redisUrl, 6379, startPrivateRedis);

await startOrExit(config, async () => {
  if (await ensureDatabase(config.database.url)) console.log('[dev] created the database');
  await migrateDatabase(config.database.url);
  const { db, close } = createDb(config.database.url, { max: 1 });
  try {
    const seeded = await seedMenu(db);
    if (seeded > 0) console.log(`[dev] seeded ${seeded} menu items`);
  } finally {
    await close();
  }
});
console.log(`[dev] starting ${SERVICES.map((s) => s.name).join(', ')}; Ctrl-C stops everything`);
const code = await superviseAll(SERVICES);
await stopPrivate(privateServices);
process.exit(code);
