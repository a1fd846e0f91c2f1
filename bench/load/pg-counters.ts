import type postgres from 'postgres';

/** One statement's work as pg_stat_statements counts it, under the role that ran it. */
export interface StatementWork {
  role: string;
  query: string;
  calls: number;
  rows: number;
  /** Shared buffers hit plus read: what a statement touched, the closest this view has to tuples read. */
  blocks: number;
  walBytes: number;
  walFpi: number;
  /** Executor time (wall clock, not CPU): what the statement took inside PostgreSQL, round trips excluded. */
  execMs: number;
}

/** A table's or an index's counters (pg_stat_user_tables, pg_stat_user_indexes), as deltas. */
export type RelationWork = Record<string, number>;

/** The database's and the server's counters that are not per statement. */
export interface DatabaseTotals {
  /** xact_commit + xact_rollback of the database. */
  transactions: number;
  /** tup_returned + tup_fetched of the database: the "tuples read" of `bun run bench`. */
  tuplesRead: number;
  tuplesReturned: number;
  tuplesFetched: number;
  /** pg_stat_wal, the whole server's: records, full-page images, bytes. */
  walRecords: number;
  walFpi: number;
  walBytes: number;
}

export interface Counters {
  totals: DatabaseTotals;
  tables: Record<string, RelationWork>;
  indexes: Record<string, RelationWork>;
}

/** Whether the server loaded pg_stat_statements at start (it can only be loaded then). */
export async function statementsLoaded(sql: postgres.Sql): Promise<boolean> {
  const [row] = await sql<{ loaded: boolean }[]>`select current_setting('shared_preload_libraries') ~ '(^|[ ,])pg_stat_statements($|[ ,])' as loaded`;
  return row!.loaded;
}

/**
 * Creates the extension in this database (its view shows every database's statements; ours are picked
 * by dbid) and empties its counters for this database only, so other databases' figures survive.
 */
export async function resetStatements(sql: postgres.Sql): Promise<void> {
  await sql`create extension if not exists pg_stat_statements`;
  await sql`select pg_stat_statements_reset(0, (select oid from pg_database where datname = current_database()), 0)`;
}

export async function readStatements(sql: postgres.Sql): Promise<StatementWork[]> {
  const rows = await sql<{ role: string; query: string; calls: string; rows: string; blocks: string; wal_bytes: string; wal_fpi: string; exec_ms: number }[]>`
    select r.rolname as role, s.query, s.calls::text, s.rows::text, (s.shared_blks_hit + s.shared_blks_read)::text as blocks,
           s.wal_bytes::text, s.wal_fpi::text, s.total_exec_time as exec_ms
    from pg_stat_statements s join pg_roles r on r.oid = s.userid
    where s.dbid = (select oid from pg_database where datname = current_database())`;
  return rows.map((r) => ({
    role: r.role,
    query: r.query,
    calls: Number(r.calls),
    rows: Number(r.rows),
    blocks: Number(r.blocks),
    walBytes: Number(r.wal_bytes),
    walFpi: Number(r.wal_fpi),
    execMs: r.exec_ms,
  }));
}

/**
 * The counters PostgreSQL keeps without the extension. A backend reports them when its transaction
 * ends, at most once a second, and an idle one up to 10 s later: read them after the sessions that did
 * the work have closed (a backend reports everything as it exits).
 */
export async function readCounters(sql: postgres.Sql): Promise<Counters> {
  const [db] = await sql<{ transactions: string; returned: string; fetched: string }[]>`
    select (xact_commit + xact_rollback)::text as transactions, tup_returned::text as returned, tup_fetched::text as fetched
    from pg_stat_database where datname = current_database()`;
  const [wal] = await sql<{ records: string; fpi: string; bytes: string }[]>`select wal_records::text as records, wal_fpi::text as fpi, wal_bytes::text as bytes from pg_stat_wal`;
  const tables = await sql<{ name: string; seq_scan: string; seq_tup_read: string; idx_scan: string; idx_tup_fetch: string; n_tup_ins: string; n_tup_upd: string; n_tup_hot_upd: string; n_tup_del: string }[]>`
    select relname as name, seq_scan::text, seq_tup_read::text, coalesce(idx_scan, 0)::text as idx_scan, coalesce(idx_tup_fetch, 0)::text as idx_tup_fetch,
           n_tup_ins::text, n_tup_upd::text, n_tup_hot_upd::text, n_tup_del::text
    from pg_stat_user_tables`;
  const indexes = await sql<{ name: string; idx_scan: string; idx_tup_read: string; idx_tup_fetch: string }[]>`
    select indexrelname as name, idx_scan::text, idx_tup_read::text, idx_tup_fetch::text from pg_stat_user_indexes`;
  const numbers = (row: Record<string, string>) => Object.fromEntries(Object.entries(row).filter(([key]) => key !== 'name').map(([key, value]) => [key, Number(value)]));
  return {
    totals: {
      transactions: Number(db!.transactions),
      tuplesRead: Number(db!.returned) + Number(db!.fetched),
      tuplesReturned: Number(db!.returned),
      tuplesFetched: Number(db!.fetched),
      walRecords: Number(wal!.records),
      walFpi: Number(wal!.fpi),
      walBytes: Number(wal!.bytes),
    },
    tables: Object.fromEntries(tables.map((row) => [row.name, numbers(row)])),
    indexes: Object.fromEntries(indexes.map((row) => [row.name, numbers(row)])),
  };
}

/** `after - before`, field by field (a relation missing before counts from zero). */
export function countersSince(before: Counters, after: Counters): Counters {
  const minus = <T extends { [K in keyof T]: number }>(a: T, b: Partial<T> | undefined): T =>
    Object.fromEntries(Object.entries(a).map(([key, value]) => [key, (value as number) - ((b as Record<string, number> | undefined)?.[key] ?? 0)])) as T;
  const each = (a: Record<string, RelationWork>, b: Record<string, RelationWork>) => Object.fromEntries(Object.entries(a).map(([name, work]) => [name, minus(work, b[name])]));
  return { totals: minus(after.totals, before.totals), tables: each(after.tables, before.tables), indexes: each(after.indexes, before.indexes) };
}
