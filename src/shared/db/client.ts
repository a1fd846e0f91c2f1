import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export interface DbOptions {
  /** Pool size; postgres.js opens connections lazily up to this many. */
  max?: number;
  /** Seconds to wait for a connection before giving up (health checks want this short). */
  connectTimeoutSeconds?: number;
}

export function createDb(url: string, { max = 10, connectTimeoutSeconds = 5 }: DbOptions = {}) {
  const sql = postgres(url, {
    max,
    connect_timeout: connectTimeoutSeconds,
    // NOTICEs ("relation already exists, skipping") are noise in JSON logs.
    onnotice: () => {},
  });
  const db = drizzle({ client: sql, schema });
  return {
    db,
    sql,
    close: () => sql.end({ timeout: 5 }),
  };
}

export type DbHandle = ReturnType<typeof createDb>;
export type Database = DbHandle['db'];
/** A transaction handle; accepted wherever a query must join the caller's transaction. */
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
