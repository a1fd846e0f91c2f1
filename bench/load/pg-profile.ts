import postgres from 'postgres';
import { startSystem, stopAfter, type SpawnProcess } from '../../scripts/lib/start-system.ts';
import type { RunningService, ServiceName } from '../../scripts/lib/spawn-service.ts';
import { countBackendCpu } from './backend-cpu.ts';
import { builtinLoad } from './builtin-driver.ts';
import { startSubscribers } from './subscribers.ts';
import { countCpu, type CpuUse } from './cpu-accounting.ts';
import type { LoadOutcome } from './load-outcome.ts';
import { countersSince, readCounters, readStatements, resetStatements, statementsLoaded, type Counters, type StatementWork } from './pg-counters.ts';
import { currentWalLsn, walByRelation, type WalShare } from './pg-wal.ts';

export interface PgProfileOptions {
  databaseServerUrl: string;
  redisUrl: string;
  /** Every service's environment (log level, the mock provider's settings). */
  env: Record<string, string>;
  spawnService: SpawnProcess<RunningService>;
  /** Orders per second of the open loop: moderate, so batches are as small as at an everyday load. */
  rate: number;
  seconds: number;
  warmupSeconds: number;
  /** Clients following orders on `GET /orders/{id}/events` meanwhile (bench/load/subscribers.ts): the API's order-stream reader. */
  subscribers: number;
}

export interface PgProfile {
  load: LoadOutcome;
  /** Orders accepted in the measured window: every figure is divided by it. */
  orders: number;
  statements: StatementWork[];
  counters: Counters;
  /** CPU seconds per group (postgres: every PostgreSQL process on the machine) from the load's start to the last order notified. */
  cpuSeconds: CpuUse;
  /** The role whose statements are the bench's own (the drain wait, the counters): left out of the tables. */
  benchRole: string;
  /** PostgreSQL's CPU seconds over the same time, by role (the services' sessions) or backend type (the server's own processes). */
  backendCpuSeconds: Record<string, number>;
  /** This database's WAL by relation and record type (pg_walinspect); undefined without the extension. */
  wal?: WalShare[];
}

/**
 * The role a service's sessions log in as during the profile, so pg_stat_statements (which keys its
 * counters by role, not application_name) tells the api's BEGINs and COMMITs from payment's and
 * notify's. A member of the role that owns the tables: it has their privileges and nothing more.
 */
const roleOf = (service: ServiceName) => `bench_pg_${service}`;

async function ensureServiceRoles(sql: postgres.Sql, services: readonly ServiceName[]): Promise<string> {
  const [{ owner } = { owner: '' }] = await sql<{ owner: string }[]>`select current_user as owner`;
  for (const service of services) {
    const role = roleOf(service);
    // Roles are the server's, not the throwaway database's: made once, then reused by every profile.
    await sql.unsafe(`do $$ begin create role ${role} login; exception when duplicate_object or unique_violation then null; end $$`);
    await sql.unsafe(`grant "${owner.replaceAll('"', '""')}" to ${role}`);
  }
  return owner;
}

function urlAs(url: string, role: string): string {
  const parsed = new URL(url);
  parsed.username = role;
  parsed.password = '';
  return parsed.href;
}

/** Waits until every order the bench placed since `from` is notified, on a session closed afterwards (so its counters are reported). */
async function waitUntilNotified(url: string, from: Date, timeoutMs = 120_000): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [row] = await sql<{ waiting: number }[]>`select count(*)::int as waiting from orders where created_at >= ${from} and notified_at is null and customer_email like 'bench%@example.com'`;
      if (row!.waiting === 0) return;
      if (Date.now() > deadline) throw new Error(`${row!.waiting} orders still not notified after ${timeoutMs / 1000} s`);
      await Bun.sleep(250);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Polls as people and Prometheus do while the load runs: the ops page's summary every 2 s (the page's
 * own interval), every service's /metrics every 15 s (monitoring/prometheus.yml), so their statements
 * are in the profile at the share a watched deployment pays. Returns stop().
 */
function pollLikeOperators(apiUrl: string, metricsUrls: readonly string[]): () => Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  const get = (url: string) => {
    const request = fetch(url).then((res) => res.arrayBuffer()).catch((error: Error) => console.warn(`polling ${url}: ${error.message}`));
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  };
  const ops = setInterval(() => get(`${apiUrl}/ops/summary`), 2000);
  const scrape = () => metricsUrls.forEach(get);
  const metrics = setInterval(scrape, 15_000);
  get(`${apiUrl}/ops/summary`);
  scrape();
  return async () => {
    clearInterval(ops);
    clearInterval(metrics);
    await Promise.all(inFlight);
  };
}

/**
 * Where PostgreSQL's work per order goes: the dev topology (api, payment, notify) on a fresh system, each
 * service logging in as a role of its own, an open loop at `rate` after a warm-up, pg_stat_statements
 * emptied for this database just before the measured window. The window ends when every one of its
 * orders is notified; then the services stop, so every backend has reported its counters
 * (pg_stat_database, the table and index counters) before they are read. Returns undefined, saying
 * why, when the server has not loaded pg_stat_statements.
 */
export async function profileDatabase(options: PgProfileOptions): Promise<PgProfile | undefined> {
  const admin = postgres(options.databaseServerUrl, { max: 1, onnotice: () => {} });
  const loaded = await statementsLoaded(admin).finally(() => admin.end({ timeout: 5 }));
  if (!loaded) {
    console.log(
      'skipped: pg_stat_statements is not loaded. Add `shared_preload_libraries = \'pg_stat_statements\'` to postgresql.conf ' +
        '(Debian: /etc/postgresql/<version>/main/) and restart the server (pg_ctlcluster <version> main restart).',
    );
    return undefined;
  }
  const services: ServiceName[] = ['api', 'payment', 'notify'];
  const system = await startSystem({ label: 'bench_pg', databaseServerUrl: options.databaseServerUrl, redisUrl: options.redisUrl, env: options.env, poolSize: 1, applicationName: 'bench', spawnService: options.spawnService });
  return stopAfter(system, async () => {
    const profiler = postgres(system.database.url, { max: 1, onnotice: () => {} });
    try {
      const benchRole = await ensureServiceRoles(profiler, services);
      const started = await Promise.all(services.map((service) => system.spawn(service, { DATABASE_URL: urlAs(system.database.url, roleOf(service)), ...(service === 'api' ? {} : { CONSUMER_NAME: `bench-${service}` }) })));
      const baseUrl = `http://127.0.0.1:${started[0]!.port}`;
      if (options.warmupSeconds > 0) {
        const from = new Date();
        await builtinLoad(baseUrl, 'warm-up', { kind: 'open', rate: options.rate }, options.warmupSeconds);
        await waitUntilNotified(system.database.url, from);
      }
      // The streams open before anything is counted: their connecting is not the orders' work.
      const subscribers = options.subscribers > 0 ? startSubscribers({ baseUrl, databaseUrl: system.database.url, count: options.subscribers }) : undefined;
      await subscribers?.ready();
      await resetStatements(profiler);
      const before = await readCounters(profiler);
      const walFrom = await currentWalLsn(profiler);
      const cpu = await countCpu(Object.fromEntries(started.map((service) => [service.name, service.proc.pid])));
      const backendCpu = await countBackendCpu(profiler);
      const from = new Date();
      const stopPolling = pollLikeOperators(baseUrl, started.map((service) => `http://127.0.0.1:${service.port}/metrics`));
      const load = await builtinLoad(baseUrl, `${options.rate}/s`, { kind: 'open', rate: options.rate }, options.seconds);
      await waitUntilNotified(system.database.url, from);
      const cpuSeconds = await cpu.stop();
      const backendCpuSeconds = await backendCpu.stop();
      await Promise.all([stopPolling(), subscribers?.stop()]);
      // Stopped, every service session has ended and reported what it did.
      await Promise.all(started.map((service) => service.stop('SIGTERM')));
      await Bun.sleep(500);
      const counters = countersSince(before, await readCounters(profiler));
      const statements = await readStatements(profiler);
      const wal = await walByRelation(profiler, walFrom, await currentWalLsn(profiler));
      return { load, orders: load.created, statements, counters, cpuSeconds, benchRole, backendCpuSeconds, wal };
    } finally {
      await profiler.end({ timeout: 5 });
    }
  });
}
