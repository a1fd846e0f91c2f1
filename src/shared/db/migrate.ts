import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

export const MIGRATIONS_FOLDER = join(import.meta.dir, '../../../drizzle');

// Any constant works; it only has to be the same in every process that migrates.
const MIGRATION_LOCK_ID = 7_240_001;

function connect(url: string) {
  return postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
}

/**
 * Creates the database named in `url` when it does not exist yet (connecting to the
 * `postgres` maintenance database to do so). Returns true when it created it.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL ${target.origin} names no database`);
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const sql = connect(maintenance.href);
  try {
    const [existing] = await sql`select 1 from pg_database where datname = ${name}`;
    if (existing) return false;
    try {
      await sql.unsafe(`create database "${name.replaceAll('"', '""')}"`);
      return true;
    } catch (error) {
      // 42P04 duplicate_database: another process created it between our check and our create.
      if ((error as { code?: string }).code === '42P04') return false;
      throw error;
    }
  } finally {
    await sql.end();
  }
}

/**
 * Applies the committed drizzle-kit migrations. An advisory lock makes concurrent
 * runs (several containers starting at once) apply each migration exactly once.
 */
export async function migrateDatabase(url: string, migrationsFolder = MIGRATIONS_FOLDER): Promise<void> {
  const sql = connect(url);
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await migrate(drizzle({ client: sql }), { migrationsFolder });
  } finally {
    // Ending the only connection releases the advisory lock with it.
    await sql.end();
  }
}
