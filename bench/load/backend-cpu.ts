import type postgres from 'postgres';
import { cpuSecondsOf } from './cpu-accounting.ts';

/**
 * PostgreSQL's CPU by whom it worked for: each session of this database under its role (a service's,
 * see pg-profile.ts), and the server's own processes (WAL writer, checkpointer...) by type. Sessions
 * must be open before start() (the pools are warm after the warm-up); one opened later is not counted.
 */
export async function countBackendCpu(sql: postgres.Sql): Promise<{ stop(): Promise<Record<string, number>> }> {
  const backends = await sql<{ pid: number; who: string }[]>`
    select pid, coalesce(case when datname = current_database() then usename end, backend_type) as who
    from pg_stat_activity where (datname = current_database() or datname is null) and pid <> pg_backend_pid()`;
  const read = async () => Promise.all(backends.map(({ pid }) => cpuSecondsOf(pid).catch(() => Number.NaN)));
  const before = await read();
  return {
    async stop() {
      const after = await read();
      const use: Record<string, number> = {};
      backends.forEach(({ who }, i) => {
        const seconds = after[i]! - before[i]!;
        if (Number.isFinite(seconds)) use[who] = (use[who] ?? 0) + seconds;
      });
      return use;
    },
  };
}
