import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { backoffDelay } from '../backoff/backoff.ts';
import * as schema from './schema.ts';

/**
 * How long a pooled connection waits before it reconnects, by failures in a row: the project's one
 * backoff policy, 10 ms up to 100 ms. postgres.js's own grows to 10-20 s after seven failed closes,
 * and a query waits out its connection's delay: under session kills a request then outlived its
 * whole retry budget (DB_RETRY_BUDGET_MS) waiting for one reconnect. The driver counts closes across
 * the pool and resets only on a successful start-up, so one kill of every session (a failover, an
 * admin) already puts each connection at the ceiling: it must stay small beside the request budget
 * (at 500 ms, a chaos run's single cut of all sessions left some requests 503 after 2 s). A server
 * that is really down refuses a connect at once, so trying every 50-100 ms costs little.
 */
const RECONNECT_BACKOFF = { baseMs: 20, maxMs: 100, jitter: 'equal' } as const;

export interface DbOptions {
  /** Pool size; postgres.js opens connections lazily up to this many. */
  max?: number;
  /** Seconds to wait for a connection before giving up (DATABASE_CONNECT_TIMEOUT_MS): a session killed while it starts can leave a connect hanging, and a request should retry rather than wait. */
  connectTimeoutSeconds?: number;
  /** Shows in pg_stat_activity, so an operator can tell the api's sessions from the workers'. */
  applicationName?: string;
  /**
   * Every statement on this pool finds its rows through an index (a batch's order ids, an idempotency
   * key), so its sessions run with `enable_seqscan = off`. postgres.js prepares each statement and
   * PostgreSQL switches to a cached generic plan after five runs; made while a table was small (a young
   * database, no statistics yet), that plan hash-joins a sequential scan and stays one as the table
   * grows, until the next ANALYZE of it. Seen in `bun run bench`: millions of rows read in 30 s.
   */
  indexLookupsOnly?: boolean;
  /**
   * statement_timeout of every session (DB_STATEMENT_TIMEOUT_MS). The server-side half of the bound on
   * when a request's write can still commit (the Idempotency-Key's write window is derived from it).
   */
  statementTimeoutMs?: number;
}

export function createDb(url: string, { max = 10, connectTimeoutSeconds = 5, applicationName = 'order-service', indexLookupsOnly = false, statementTimeoutMs = 30_000 }: DbOptions = {}) {
  const sql = postgres(url, {
    max,
    connect_timeout: connectTimeoutSeconds,
    // postgres.js takes seconds.
    backoff: (failures: number) => backoffDelay(failures, RECONNECT_BACKOFF) / 1000,
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
      statement_timeout: statementTimeoutMs,
      ...(indexLookupsOnly ? { enable_seqscan: 'off' } : {}),
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
