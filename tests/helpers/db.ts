import postgres from 'postgres';
import { createDb, type DbHandle } from '../../src/shared/db/client.ts';
import { ensureDatabase, migrateDatabase } from '../../src/shared/db/migrate.ts';

/** Server the tests create their databases on; CI and the README use the local default. */
export const TEST_SERVER_URL = Bun.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string, serverUrl = TEST_SERVER_URL): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.href;
}

/** A database name no other test file (or concurrent run) uses. */
export function uniqueDatabaseName(label: string): string {
  const safe = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 30);
  return `test_${safe}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

export interface TestDatabase extends DbHandle {
  name: string;
  url: string;
  /** Closes the pool and drops the database. */
  drop: () => Promise<void>;
}

/** Creates and migrates a fresh database for one test file, through the same code `bun run db:migrate` uses. */
export async function createTestDatabase(label: string, { migrate = true, serverUrl = TEST_SERVER_URL } = {}): Promise<TestDatabase> {
  const name = uniqueDatabaseName(label);
  const url = databaseUrl(name, serverUrl);
  await ensureDatabase(url);
  if (migrate) await migrateDatabase(url);
  const handle = createDb(url, { max: 10 });
  return {
    ...handle,
    name,
    url,
    drop: async () => {
      await handle.close();
      await dropDatabase(name, serverUrl);
    },
  };
}

export async function dropDatabase(name: string, serverUrl = TEST_SERVER_URL): Promise<void> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
}
