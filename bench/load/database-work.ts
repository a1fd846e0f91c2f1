import { sql } from 'drizzle-orm';
import type { Database } from '../../src/shared/db/client.ts';

/** PostgreSQL's own counters for the system's database, per order: no pg_stat_statements needed. */
export interface DatabaseWork {
  /** Transactions committed or rolled back; every statement outside BEGIN...COMMIT is one. */
  transactions: number;
  /** Rows and index entries the executor read (tup_returned + tup_fetched): a scan over dead rows shows here. */
  tuplesRead: number;
  /** WAL written, in kB. */
  walKb: number;
}

async function read(db: Database) {
  const [row] = await db.execute<{ transactions: string; tuples: string; wal: string }>(sql`
    select (xact_commit + xact_rollback)::text as transactions, (tup_returned + tup_fetched)::text as tuples,
           pg_current_wal_lsn()::text as wal
    from pg_stat_database where datname = current_database()`);
  const [hi, lo] = row!.wal.split('/').map((part) => Number.parseInt(part, 16)) as [number, number];
  return { transactions: Number(row!.transactions), tuples: Number(row!.tuples), walBytes: hi * 2 ** 32 + lo };
}

/**
 * Counts the database's work from now until stop(), per order. Backends report their counters at
 * most once a second, so stop() waits that out first; WAL is the whole server's (nothing else
 * should be writing). The counting itself costs a transaction or two, negligible beside thousands.
 */
export async function countDatabaseWork(db: Database): Promise<{ stop(orders: number): Promise<DatabaseWork> }> {
  const before = await read(db);
  return {
    async stop(orders) {
      await Bun.sleep(1100);
      const after = await read(db);
      const per = (n: number) => n / Math.max(1, orders);
      return {
        transactions: per(after.transactions - before.transactions),
        tuplesRead: per(after.tuples - before.tuples),
        walKb: per((after.walBytes - before.walBytes) / 1024),
      };
    },
  };
}
