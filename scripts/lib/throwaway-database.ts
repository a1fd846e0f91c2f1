import postgres from 'postgres';
import { createDb } from '../../src/shared/db/client.ts';
import { ensureDatabase, migrateDatabase } from '../../src/shared/db/migrate.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';

/** A fresh, migrated, seeded database next to the one in `serverUrl`, for a chaos or benchmark run. */
export async function createThrowawayDatabase(serverUrl: string, label: string, { applicationName = label } = {}) {
  const name = `${label}_${Date.now().toString(36)}_${process.pid}`;
  const target = new URL(serverUrl);
  target.pathname = `/${name}`;
  const url = target.href;
  await ensureDatabase(url);
  await migrateDatabase(url);
  const handle = createDb(url, { max: 4, applicationName });
  await seedMenu(handle.db);
  return {
    name,
    url,
    ...handle,
    async drop() {
      await handle.close();
      const server = new URL(serverUrl);
      server.pathname = '/postgres';
      const admin = postgres(server.href, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}
