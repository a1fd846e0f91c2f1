/**
 * `bun run bench`: load on the whole system over HTTP, then the same SQL straight into PostgreSQL
 * with pgbench at the same concurrency, so the figure we track is a ratio, not a machine's speed.
 *
 *   bun run bench                                # own system, two runs: gateway at zero, then realistic
 *   bun run bench --connections 64 --duration 30 # closed loop: 64 clients, each POSTing back to back
 *   bun run bench --rate 500 --orders 10000      # open loop: 500 orders/s, whatever the latency
 *   bun run bench --url http://localhost:3000    # drive a running system (bun run dev, compose)
 *
 * End-to-end latencies are read from the database timestamps (orders.created_at ->
 * payment_attempts.created_at -> notifications.created_at), not from polling.
 */
import { readdirSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import { sql } from 'drizzle-orm';
import Redis from 'ioredis';
import { createDb, type Database } from '../src/shared/db/client.ts';
import { loadConfigOrExit } from '../src/shared/runtime/startup.ts';
import { pipelineReport } from '../src/shared/ops/stream-report.ts';
import { startSystem, stopAfter } from '../scripts/lib/start-system.ts';
import { createThrowawayDatabase } from '../scripts/lib/throwaway-database.ts';
import { machine } from './machine.ts';

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    url: { type: 'string' },
    connections: { type: 'string', default: '32' },
    rate: { type: 'string' },
    duration: { type: 'string', default: '20' },
    orders: { type: 'string' },
    gateway: { type: 'string', default: 'both' },
    'payment-workers': { type: 'string', default: '2' },
    'log-dir': { type: 'string' },
  },
});

const config = loadConfigOrExit(Bun.env);
const connections = Number(values.connections);
const durationMs = Number(values.duration) * 1000;
const orderLimit = values.orders ? Number(values.orders) : Number.POSITIVE_INFINITY;
const rate = values.rate ? Number(values.rate) : undefined;

const GATEWAYS = {
  zero: { GATEWAY_LATENCY_MS: '0', GATEWAY_ERROR_RATE: '0', GATEWAY_DECLINE_RATE: '0' },
  realistic: { GATEWAY_LATENCY_MS: '30', GATEWAY_ERROR_RATE: '0.05', GATEWAY_DECLINE_RATE: '0.05' },
} as const;

interface LoadResult {
  label: string;
  accepted: string[];
  seconds: number;
  latenciesMs: number[];
  statuses: Record<string, number>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarize(values: number[]) {
  const sorted = values.toSorted((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN, count: sorted.length };
}

async function drive(apiUrl: string, label: string): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const statuses: Record<string, number> = {};
  const accepted: string[] = [];
  const total = Number.isFinite(orderLimit) ? orderLimit : undefined;
  const bar = new SingleBar(
    { format: `${label.padEnd(10)} [{bar}] {percentage}% | {sent} sent | {rps} orders/s | {errors} errors`, noTTYOutput: true, notTTYSchedule: 2000, hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(100, 0, { sent: 0, rps: 0, errors: 0 });
  const started = performance.now();
  let sent = 0;
  let errors = 0;
  const done = () => sent >= orderLimit || performance.now() - started >= (total ? Number.POSITIVE_INFINITY : durationMs);

  async function one(i: number) {
    const t0 = performance.now();
    let status = 'network error';
    try {
      const res = await fetch(`${apiUrl}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items: [{ menuItemId: 1 + (i % 12), quantity: 1 + (i % 3) }], customerEmail: `bench-${i}@example.com` }),
      });
      status = String(res.status);
      if (res.status === 201) accepted.push(((await res.json()) as { id: string }).id);
      else await res.arrayBuffer();
    } catch {
      // Counted under "network error".
    }
    latenciesMs.push(performance.now() - t0);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status !== '201') errors++;
  }

  const ticker = setInterval(() => {
    const elapsed = performance.now() - started;
    const progress = total ? (sent / total) * 100 : (elapsed / durationMs) * 100;
    bar.update(Math.min(100, Math.floor(progress)), { sent, rps: Math.round(accepted.length / (elapsed / 1000)), errors });
  }, 250);

  if (rate) {
    // Open loop: requests start on schedule whether or not earlier ones have answered.
    const inFlight = new Set<Promise<void>>();
    while (!done()) {
      const due = started + (sent * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      const request = one(sent++);
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
    }
    await Promise.all(inFlight);
  } else {
    // Closed loop: each client sends its next order as soon as the last one is answered.
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (!done()) await one(sent++);
      }),
    );
  }
  clearInterval(ticker);
  const seconds = (performance.now() - started) / 1000;
  bar.update(100, { sent, rps: Math.round(accepted.length / seconds), errors });
  bar.stop();
  return { label, accepted, seconds, latenciesMs, statuses };
}

/** Waits for this run's orders to be paid/failed and notified, then reads their journey from the database. */
async function journeys(db: Database, runStartedAt: Date, expected: number, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  // This run's orders: the bench's e-mail addresses, placed since it started.
  const mine = sql`o.customer_email like 'bench-%@example.com' and o.created_at >= ${runStartedAt.toISOString()}::timestamptz`;
  for (;;) {
    const [row] = await db.execute<{ n: number }>(sql`select count(*)::int as n from orders o where ${mine} and o.notified_at is not null`);
    if (row!.n >= expected || Date.now() > deadline) break;
    await Bun.sleep(200);
  }
  const rows = await db.execute<{ paid_ms: number | null; notified_ms: number | null }>(sql`
    select extract(epoch from (p.created_at - o.created_at)) * 1000 as paid_ms,
           extract(epoch from (n.created_at - o.created_at)) * 1000 as notified_ms
    from orders o
    left join payment_attempts p on p.order_id = o.id
    left join notifications n on n.order_id = o.id
    where ${mine}`);
  return {
    paid: summarize(rows.flatMap((r) => (r.paid_ms === null ? [] : [Number(r.paid_ms)]))),
    notified: summarize(rows.flatMap((r) => (r.notified_ms === null ? [] : [Number(r.notified_ms)]))),
    unfinished: rows.filter((r) => r.notified_ms === null).length,
  };
}

/** Lag and pending of each stream's consumer group, from the same report `bun run streams` prints. */
async function streamLag(redis: Redis, db: Database, prefix: string) {
  const report = await pipelineReport({ redis, db, prefix });
  return Object.fromEntries(
    report.streams.map((stream) => {
      const group = stream.groups[0];
      return [stream.stream, { lag: group?.lag ?? 0, pending: group?.pending ?? 0 }];
    }),
  );
}

function pgbenchBinary(): string | undefined {
  const onPath = Bun.which('pgbench');
  if (onPath) return onPath;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).filter((v) => existsSync(`${root}/${v}/bin/pgbench`)).sort((a, b) => Number(b) - Number(a))[0];
  return version ? `${root}/${version}/bin/pgbench` : undefined;
}

/**
 * The same SQL one order costs, straight into PostgreSQL at the same concurrency, in a database of
 * its own (its outbox rows must not reach a running relay).
 */
async function pgbench(clients: number, seconds: number): Promise<number | undefined> {
  const binary = pgbenchBinary();
  if (!binary) {
    console.warn('pgbench not found (PATH or /usr/lib/postgresql/*/bin): no ceiling this time');
    return undefined;
  }
  const database = await createThrowawayDatabase(config.database.url, 'pgbench', { seed: true, poolSize: 1, applicationName: 'pgbench' });
  try {
    return await runPgbench(binary, database.url, clients, seconds);
  } finally {
    await database.drop();
  }
}

async function runPgbench(binary: string, databaseUrl: string, clients: number, seconds: number): Promise<number | undefined> {
  const url = new URL(databaseUrl);
  const proc = Bun.spawn(
    [binary, '-n', '-c', String(clients), '-j', '2', '-T', String(seconds), '-f', new URL('pgbench/order.sql', import.meta.url).pathname, '-h', url.hostname, '-p', url.port || '5432', '-U', decodeURIComponent(url.username || 'postgres'), url.pathname.slice(1)],
    { stdout: 'pipe', stderr: 'pipe', env: { ...Bun.env, PGPASSWORD: decodeURIComponent(url.password) } },
  );
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  const match = out.match(/tps = ([\d.]+) \(without initial connection time\)/);
  if (!match) console.warn(`pgbench failed: ${err.trim().split('\n').at(-1)}`);
  return match ? Number(match[1]) : undefined;
}

async function withOwnSystem<T>(gateway: Record<string, string>, run: (apiUrl: string, db: Database, prefix: string) => Promise<T>): Promise<T> {
  const system = await startSystem({
    label: 'bench',
    databaseServerUrl: config.database.url,
    redisUrl: config.redisUrl,
    env: { LOG_LEVEL: values['log-dir'] ? 'info' : 'warn', ...gateway },
    poolSize: 4,
    applicationName: 'bench',
  });
  try {
    return await stopAfter(system, async () => {
      // Every service answering /health before the clock starts, so start-up is not measured.
      const [api] = await Promise.all([
        system.spawn('api', { LOG_LEVEL: 'info' }),
        ...Array.from({ length: Number(values['payment-workers']) }, (_, i) => system.spawn('payment', { CONSUMER_NAME: `bench-payment-${i}`, CONSUMER_CONCURRENCY: '64' })),
        system.spawn('notify', { CONSUMER_NAME: 'bench-notify', CONSUMER_CONCURRENCY: '64' }),
      ]);
      return run(`http://127.0.0.1:${api.port}`, system.db, system.prefix);
    });
  } finally {
    // After stop(), so each file ends with its process's shutdown.
    if (values['log-dir']) {
      for (const [i, service] of system.services.entries()) {
        await Bun.write(`${values['log-dir']}/${system.database.name}-${i}-${service.name}.log`, service.lines.map((line) => JSON.stringify(line)).join('\n'));
      }
    }
  }
}

async function measure(label: string, apiUrl: string, db: Database, prefix: string) {
  // A second of slack: the API's clock stamps created_at, ours only says when we began.
  const runStartedAt = new Date(Date.now() - 1000);
  const load = await drive(apiUrl, label);
  const redis = new Redis(config.redisUrl);
  const lagAtEnd = await streamLag(redis, db, prefix);
  redis.disconnect();
  const journey = await journeys(db, runStartedAt, load.accepted.length);
  const ordersPerSecond = load.accepted.length / load.seconds;
  return {
    label,
    mode: rate ? `open loop, ${rate}/s` : `closed loop, ${connections} connections`,
    seconds: load.seconds,
    accepted: load.accepted.length,
    ordersPerSecond,
    postLatencyMs: summarize(load.latenciesMs),
    statuses: load.statuses,
    endToEndMs: { paid: journey.paid, notified: journey.notified, unfinished: journey.unfinished },
    streamLagAtEnd: lagAtEnd,
    pgbenchTps: undefined as number | undefined,
    ratioToPgbench: undefined as number | undefined,
  };
}

/** pgbench after the system has stopped, so the two never compete for the same cores. */
async function withCeiling(run: Awaited<ReturnType<typeof measure>>) {
  const tps = await pgbench(connections, Math.max(5, Math.round(run.seconds / 2)));
  return { ...run, pgbenchTps: tps, ratioToPgbench: tps ? run.ordersPerSecond / tps : undefined };
}

const runs: Awaited<ReturnType<typeof measure>>[] = [];
if (values.url) {
  const { db, close } = createDb(config.database.url, { max: 4 });
  runs.push(await withCeiling(await measure('running system', values.url.replace(/\/$/, ''), db, config.streamPrefix)));
  await close();
} else {
  const wanted = values.gateway === 'both' ? (['zero', 'realistic'] as const) : ([values.gateway as keyof typeof GATEWAYS] as const);
  for (const name of wanted) {
    runs.push(await withCeiling(await withOwnSystem(GATEWAYS[name], (url, db, prefix) => measure(`gateway ${name}`, url, db, prefix))));
  }
}

const info = await machine();
const fmt = (n: number | undefined, digits = 1) => (n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits));
const table = [
  `Load benchmark, ${new Date().toISOString()}: ${info.cores} cores (${info.cpu}), ${info.memoryGiB} GiB, Bun ${info.bun}, ${runs[0]?.mode}`,
  '',
  '| run | orders/s | POST p50 / p95 / p99 / max ms | to paid p50 / p95 / p99 ms | to notified p50 / p95 / p99 ms | errors | lag at end | pgbench tps | orders/s ÷ tps |',
  '|---|---|---|---|---|---|---|---|---|',
  ...runs.map((r) => {
    const errors = Object.entries(r.statuses).filter(([s]) => s !== '201').map(([s, n]) => `${n}× ${s}`).join(', ') || 'none';
    const lag = Object.entries(r.streamLagAtEnd).map(([s, l]) => `${s} ${l.lag}+${l.pending}`).join('; ');
    return `| ${r.label} | ${fmt(r.ordersPerSecond, 0)} | ${fmt(r.postLatencyMs.p50)} / ${fmt(r.postLatencyMs.p95)} / ${fmt(r.postLatencyMs.p99)} / ${fmt(r.postLatencyMs.max)} | ${fmt(r.endToEndMs.paid.p50)} / ${fmt(r.endToEndMs.paid.p95)} / ${fmt(r.endToEndMs.paid.p99)} | ${fmt(r.endToEndMs.notified.p50)} / ${fmt(r.endToEndMs.notified.p95)} / ${fmt(r.endToEndMs.notified.p99)} | ${errors} | ${lag} | ${fmt(r.pgbenchTps, 0)} | ${fmt(r.ratioToPgbench, 2)} |`;
  }),
].join('\n');
console.log(`\n${table}\n`);
const stamp = new Date().toISOString().replaceAll(':', '-');
await Bun.write(new URL(`results/load-${stamp}.json`, import.meta.url), `${JSON.stringify({ machine: info, runs }, null, 2)}\n`);
await Bun.write(new URL(`results/load-${stamp}.md`, import.meta.url), `${table}\n`);
console.log(`results: bench/results/load-${stamp}.json and .md`);
for (const r of runs) console.log(`${r.label}: orders/s ÷ pgbench tps: ${fmt(r.ratioToPgbench, 2)}`);
