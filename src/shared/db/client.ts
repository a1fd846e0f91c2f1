import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export interface DbOptions {
  /** Pool size; postgres.js opens connections lazily up to this many. */
  max?: number;
  /** Seconds to wait for a connection before giving up (DATABASE_CONNECT_TIMEOUT_MS): a session killed while it starts can leave a connect hanging, and a request should retry rather than wait. */
  connectTimeoutSeconds?: number;
  /** Shows in pg_stat_activity, so an operator can tell the api's sessions from the workers'. */
  applicationName?: string;
}

export function createDb(url: string, { max = 10, connectTimeoutSeconds = 5, applicationName = 'order-service' }: DbOptions = {}) {
  const sql = postgres(url, {
    max,
    connect_timeout: connectTimeoutSeconds,
    // NOTICEs ("relation already exists, skipping") are noise in JSON logs.
    onnotice: () => {},
    connection: {
      application_name: applicationName,
      // Nothing we do holds a transaction open while waiting on anything but PostgreSQL. If a
      // session sits idle inside one anyway (a client that lost a write when its connection was cut,
      // seen under `bun run chaos`), the server ends it, so the waiting request or handler gets an
      // error it can retry instead of hanging with a lock held.
      idle_in_transaction_session_timeout: 10_000,
      // No single statement of ours should run this long; a stuck one fails rather than blocks.
      statement_timeout: 30_000,
    },
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
