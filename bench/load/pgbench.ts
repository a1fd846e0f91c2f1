import { existsSync, readdirSync } from 'node:fs';
import { createThrowawayDatabase } from '../../scripts/lib/throwaway-database.ts';

/** The reference transaction: bench/pgbench/order.sql, plain SQL an order's write could not beat. */
const SCRIPT = new URL('../pgbench/order.sql', import.meta.url).pathname;

function pgbenchBinary(): string | undefined {
  const onPath = Bun.which('pgbench');
  if (onPath) return onPath;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root)
    .filter((v) => existsSync(`${root}/${v}/bin/pgbench`))
    .sort((a, b) => Number(b) - Number(a))[0];
  return version ? `${root}/${version}/bin/pgbench` : undefined;
}

/**
 * pgbench with bench/pgbench/order.sql at `clients` connections for `seconds`, in a database of its
 * own (its outbox rows must never reach a running relay), with no system running beside it.
 * Returns its tps, or undefined (and says why) when pgbench is missing or fails.
 */
export async function pgbenchCeiling(serverUrl: string, clients: number, seconds: number): Promise<number | undefined> {
  const binary = pgbenchBinary();
  if (!binary) {
    console.warn('pgbench not found (PATH or /usr/lib/postgresql/*/bin): no ceiling this time');
    return undefined;
  }
  const database = await createThrowawayDatabase(serverUrl, 'pgbench', { seed: true, poolSize: 1, applicationName: 'pgbench' });
  try {
    const url = new URL(database.url);
    const proc = Bun.spawn(
      [binary, '-n', '-c', String(clients), '-j', '2', '-T', String(seconds), '-f', SCRIPT, '-h', url.hostname, '-p', url.port || '5432', '-U', decodeURIComponent(url.username || 'postgres'), url.pathname.slice(1)],
      { stdout: 'pipe', stderr: 'pipe', env: { ...Bun.env, PGPASSWORD: decodeURIComponent(url.password) } },
    );
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    await proc.exited;
    const match = out.match(/tps = ([\d.]+) \(without initial connection time\)/);
    if (!match) console.warn(`pgbench failed: ${err.trim().split('\n').at(-1)}`);
    return match ? Number(match[1]) : undefined;
  } finally {
    await database.drop();
  }
}
