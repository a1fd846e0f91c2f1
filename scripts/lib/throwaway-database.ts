import postgres from 'postgres';
import { createDb, type DbHandle } from '../../src/shared/db/client.ts';
import { ensureDatabase, migrateDatabase } from '../../src/shared/db/migrate.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';

export interface ThrowawayDatabaseOptions {
  /** Apply the migrations (the same code `bun run db:migrate` runs); default true. */
  migrate?: boolean;
  /** Seed the menu; default false. */
  seed?: boolean;
  /** Size of the pool in the returned handle. */
  poolSize?: number;
  /** Shows in pg_stat_activity, so chaos can cut the services' sessions and not its own. */
  applicationName?: string;
}

export interface ThrowawayDatabase extends DbHandle {
  name: string;
  url: string;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** The URL of database `name` on the server of `serverUrl`. */
export function databaseUrl(name: string, serverUrl: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.href;
}

/** A database name no other test file, run or process uses; `label` says whose it is. */
export function uniqueDatabaseName(label: string): string {
  const safe = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 35);
  return `${safe}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** A fresh database on the server of `serverUrl`, for one test file, chaos run or benchmark. */
export async function createThrowawayDatabase(
  serverUrl: string,
  label: string,
  { migrate = true, seed = false, poolSize = 10, applicationName }: ThrowawayDatabaseOptions = {},
): Promise<ThrowawayDatabase> {
  const name = uniqueDatabaseName(label);
  const url = databaseUrl(name, serverUrl);
  await ensureDatabase(url);
  const handle = createDb(url, { max: poolSize, applicationName });
  try {
    if (migrate) await migrateDatabase(url);
    if (seed) await seedMenu(handle.db);
  } catch (error) {
    await handle.close();
    await dropDatabase(name, serverUrl);
    throw error;
  }
  return {
    ...handle,
    name,
    url,
    async drop() {
      await handle.close();
      await dropDatabase(name, serverUrl);
    },
  };
}

/** Drops database `name` on the server of `serverUrl`, ending any session still in it. */
export async function dropDatabase(name: string, serverUrl: string): Promise<void> {
  const admin = postgres(databaseUrl('postgres', serverUrl), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name.replaceAll('"', '""')}" with (force)`);
  } finally {
    await admin.end();
  }
}
