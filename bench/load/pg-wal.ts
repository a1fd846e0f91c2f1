import type postgres from 'postgres';

/** WAL one relation's records (or the commits) took, by record type. */
export interface WalShare {
  /** The table or index the record's first block belongs to, or `(commit)` for the transactions' own records. */
  relation: string;
  /** Resource manager and record type, as pg_walinspect names them (`Heap UPDATE`, `Btree INSERT_LEAF`). */
  kind: string;
  records: number;
  bytes: number;
  fpiBytes: number;
}

export async function currentWalLsn(sql: postgres.Sql): Promise<string> {
  const [row] = await sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
  return row!.lsn;
}

/**
 * This database's share of the WAL written between two positions, by relation and record type, from
 * pg_walinspect (PostgreSQL 15's contrib): pg_stat_wal counts the whole server's, every other database's
 * writes too. A record is ours when its first block is in this database; a transaction's commit record
 * names no block, so it is ours when its transaction wrote one of ours. Undefined when the extension is
 * not installed on the server.
 */
export async function walByRelation(sql: postgres.Sql, from: string, to: string): Promise<WalShare[] | undefined> {
  const [available] = await sql<{ ok: boolean }[]>`select exists (select from pg_available_extensions where name = 'pg_walinspect') as ok`;
  if (!available!.ok) return undefined;
  await sql`create extension if not exists pg_walinspect`;
  return sql<WalShare[]>`
    with records as (
      select xid, resource_manager || ' ' || record_type as kind, record_length, fpi_length,
             regexp_match(block_ref, 'rel \\d+/(\\d+)/(\\d+)') as rel
      from pg_get_wal_records_info(${from}::pg_lsn, ${to}::pg_lsn)
    ),
    ours as (
      select * from records where rel[1]::oid = (select oid from pg_database where datname = current_database())
    ),
    commits as (
      select * from records where rel is null and kind like 'Transaction %' and xid in (select xid from ours where xid <> 0)
    )
    select coalesce(pg_filenode_relation(0, rel[2]::oid)::text, 'filenode ' || rel[2]) as relation, kind,
           count(*)::int as records, sum(record_length)::int as bytes, sum(fpi_length)::int as "fpiBytes"
    from ours group by 1, 2
    union all
    select '(commit)', kind, count(*)::int, sum(record_length)::int, sum(fpi_length)::int from commits group by 2
    order by bytes desc`;
}
