/**
 * For `bun run dev` on a machine with nothing running: starts a throwaway Redis and PostgreSQL
 * of our own under .data/ when the local binaries exist, instead of failing.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';
import postgres from 'postgres';

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export interface PrivateService {
  name: string;
  proc: Subprocess;
  /** Asks the server to shut down cleanly. */
  stop(): void;
}

/** Does anything accept TCP connections at the URL's host and port? */
export async function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  try {
    const socket = await Bun.connect({ hostname, port: Number(port) || defaultPort, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

function isLocal(url: string) {
  return LOCAL_HOSTS.has(new URL(url).hostname);
}

function onPath(binary: string): string | undefined {
  return Bun.which(binary) ?? undefined;
}

/** initdb and postgres live in /usr/lib/postgresql/<version>/bin on Debian, often not on PATH. */
function postgresBinaries(): { initdb: string; postgres: string } | undefined {
  const initdb = onPath('initdb');
  const postgres = onPath('postgres');
  if (initdb && postgres) return { initdb, postgres };
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return { initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres') };
  }
  return undefined;
}

async function waitUntilReachable(url: string, defaultPort: number, proc: Subprocess, name: string) {
  const deadline = Date.now() + 20_000;
  while (!(await reachable(url, defaultPort))) {
    if (proc.exitCode !== null) throw new Error(`the private ${name} exited with code ${proc.exitCode}`);
    if (Date.now() > deadline) throw new Error(`the private ${name} did not start within 20 s`);
    await Bun.sleep(100);
  }
}

export async function startPrivateRedis(url: string, dataDir: string): Promise<PrivateService | string> {
  const binary = onPath('redis-server');
  if (!binary || !isLocal(url)) {
    return 'Start one with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379` or `docker compose up -d postgres redis`, or point REDIS_URL at a running server.';
  }
  const dir = resolve(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = new URL(url).port || '6379';
  // AOF on: Redis holds in-flight work, and .data/ survives a restart of `bun run dev`.
  const proc = Bun.spawn([binary, '--port', port, '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], {
    stdout: 'ignore',
    stderr: 'inherit',
  });
  await waitUntilReachable(url, 6379, proc, 'Redis');
  return { name: 'redis', proc, stop: () => proc.kill('SIGTERM') };
}

export async function startPrivatePostgres(url: string, dataDir: string): Promise<PrivateService | string> {
  const binaries = postgresBinaries();
  if (!binaries || !isLocal(url)) {
    return 'Start one with `sudo pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or `docker compose up -d postgres redis`, or point DATABASE_URL at a running server.';
  }
  const dir = resolve(dataDir, 'postgres');
  const port = new URL(url).port || '5432';
  // PostgreSQL refuses to run as root; as root, run it as the postgres user.
  const asUser = process.getuid?.() === 0 && onPath('runuser') ? ['runuser', '-u', 'postgres', '--'] : [];
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    mkdirSync(dir, { recursive: true });
    if (asUser.length > 0) Bun.spawnSync(['chown', '-R', 'postgres', dir]);
    const init = Bun.spawnSync([...asUser, binaries.initdb, '-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8'], { stdout: 'ignore', stderr: 'pipe' });
    if (init.exitCode !== 0) throw new Error(`initdb failed: ${init.stderr.toString().trim()}`);
  }
  const proc = Bun.spawn([...asUser, binaries.postgres, '-D', dir, '-p', port, '-k', dir, '-c', 'listen_addresses=127.0.0.1'], {
    stdout: 'ignore',
    stderr: 'ignore',
  });
  await waitUntilReachable(url, 5432, proc, 'PostgreSQL');
  await waitUntilAcceptingQueries(url);
  return {
    name: 'postgres',
    proc,
    // runuser does not pass signals on, so signal the postmaster itself (its pid heads postmaster.pid). SIGINT is its fast shutdown.
    stop() {
      const pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(Number.isInteger(pid) && pid > 0 ? pid : proc.pid, 'SIGINT');
    },
  };
}

/**
 * PostgreSQL listens before it takes sessions: while it replays its WAL after a crash (or finishes its
 * start-up) it answers `57P03 the database system is starting up`. Wait for a real query, on the
 * maintenance database (the target one may not exist yet).
 */
async function waitUntilAcceptingQueries(url: string, timeoutMs = 30_000): Promise<void> {
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sql = postgres(maintenance.href, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`select 1`;
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '57P03' || Date.now() > deadline) throw error;
      await Bun.sleep(50);
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
}

export async function stopPrivate(services: PrivateService[]) {
  for (const service of services.toReversed()) {
    if (service.proc.exitCode === null) {
      try {
        service.stop();
      } catch {
        service.proc.kill('SIGKILL');
      }
    }
    await service.proc.exited;
  }
}
