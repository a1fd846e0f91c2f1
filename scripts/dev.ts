/**
 * `bun run dev`: prepares the database (create, migrate, seed), then runs every service
 * with its output prefixed by its name, and stops them all on Ctrl-C.
 */
import { createDb } from '../src/shared/db/client.ts';
import { ensureDatabase, migrateDatabase } from '../src/shared/db/migrate.ts';
import { seedMenu } from '../src/shared/db/seed.ts';
import { loadConfigOrExit, startOrExit } from '../src/shared/startup.ts';
import { superviseAll, type ServiceSpec } from './supervise.ts';

const SERVICES: ServiceSpec[] = [
  { name: 'api', entry: 'src/api/main.ts' },
  { name: 'payment', entry: 'src/payment/main.ts' },
  { name: 'notify', entry: 'src/notify/main.ts' },
];

const config = loadConfigOrExit(Bun.env);
await startOrExit(config, async () => {
  if (await ensureDatabase(config.databaseUrl)) console.log('[dev] created the database');
  await migrateDatabase(config.databaseUrl);
  const { db, close } = createDb(config.databaseUrl, { max: 1 });
  try {
    const seeded = await seedMenu(db);
    if (seeded > 0) console.log(`[dev] seeded ${seeded} menu items`);
  } finally {
    await close();
  }
});
console.log(`[dev] starting ${SERVICES.map((s) => s.name).join(', ')}; Ctrl-C stops everything`);
process.exit(await superviseAll(SERVICES));
