/**
 * The chaos run behind `bun run chaos` (and its short version in `bun test`): a system of its own
 * on the configured PostgreSQL and Redis, orders placed at a steady rate while workers are SIGKILLed
 * and restarted and their Redis and PostgreSQL connections cut, the customers' mail server greylisting
 * and the restaurant's endpoint failing, then invariants checked from the database, Redis and what the
 * mail server and the endpoint received, never from the workers' own counters.
 */
import { sql } from 'drizzle-orm';
import Redis from 'ioredis';
import postgres from 'postgres';
import type { Database } from '../../src/shared/db/client.ts';
import { createDeadLetters } from '../../src/shared/ops/dead-letters.ts';
import { pipelineReport } from '../../src/shared/ops/stream-report.ts';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import type { RunningService, ServiceName } from '../lib/spawn-service.ts';
import { startSystem, stopAfter, type System } from '../lib/start-system.ts';
import type { WebhookReceiver } from '../lib/webhook-receiver.ts';
import { chaosCard, paymentInvariants, startChaosProvider, type ChaosProvider } from './payments.ts';
import { freePort } from '../lib/spawn-service.ts';
import { greylistSome, notificationInvariants, NOTIFY_CHAOS_ENV, startFailingEndpoint, webhooksOutstanding } from './notifications.ts';

export interface ChaosOptions {
  /** Orders to place. */
  orders: number;
  /** Worker SIGKILLs (each followed by a restart); at least this many. */
  kills: number;
  /** Orders per second. */
  rate: number;
  /** The PostgreSQL server (its database part is replaced by a fresh chaos database). */
  databaseUrl: string;
  redisUrl: string;
  /** How long to wait for the pipeline to drain after the last order. */
  drainTimeoutMs: number;
  /** Keep the chaos database and streams afterwards, to look at them. */
  keep?: boolean;
  /** Write every process's log lines here (one file per process), to see what happened. */
  logDir?: string;
  onProgress?: (progress: ChaosProgress) => void;
}

export interface ChaosProgress {
  phase: 'placing' | 'draining' | 'checking';
  placed: number;
  accepted: number;
  settled: number;
  kills: number;
  connectionKills: number;
}

export interface Invariant {
  ok: boolean;
  line: string;
}

export interface ChaosReport {
  invariants: Invariant[];
  accepted: number;
  kills: number;
  clientKills: number;
  backendKills: number;
  database: string;
  streamPrefix: string;
  seconds: number;
}

const random = Math.random;
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

/** Timings short, so recovery is visible within the run; the provider's faults are the sandbox's (payments.ts). */
const CHAOS_ENV: Record<string, string> = {
  LOG_LEVEL: 'info',
  RETRY_BASE_DELAY_MS: '10',
  RETRY_MAX_DELAY_MS: '100',
  BREAKER_COOLDOWN_MS: '300',
  CLAIM_IDLE_MS: '1500',
  RECONCILE_AFTER_MS: '5000',
  RELAY_INTERVAL_MS: '200',
  CONSUMER_BLOCK_MS: '200',
  SHUTDOWN_TIMEOUT_MS: '3000',
};

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = performance.now();
  const endpoint = startFailingEndpoint();
  const apiPort = await freePort();
  const provider = await startChaosProvider(apiPort).catch(async (error) => {
    await endpoint.stop();
    throw error;
  });
  const system = await startSystem({
    label: 'chaos',
    databaseServerUrl: options.databaseUrl,
    redisUrl: options.redisUrl,
    env: { ...CHAOS_ENV, ...provider.env, ...NOTIFY_CHAOS_ENV, ORDER_WEBHOOK_URL: endpoint.url, ORDER_WEBHOOK_SECRET: endpoint.secret },
    poolSize: 4,
    // Not api/payment/notify: the connection cuts must spare the checker's own sessions.
    applicationName: 'chaos-runner',
    keep: options.keep,
  }).catch(async (error) => {
    await Promise.all([endpoint.stop(), provider.stop()]);
    throw error;
  });
  greylistSome(system.mail);
  try {
    // Every process stopped, then the streams and the database dropped (unless keep), however the run ends.
    return await stopAfter(system, async () => {
      const admin = new Redis(options.redisUrl, { maxRetriesPerRequest: 3 });
      const pgAdmin = postgres(system.database.url, { max: 1, onnotice: () => {} });
      try {
        const outcome = await underChaos(system, { endpoint, provider, apiPort }, admin, pgAdmin, options);
        return { ...outcome, database: system.database.name, streamPrefix: system.prefix, seconds: (performance.now() - started) / 1000 };
      } finally {
        await pgAdmin.end();
        admin.disconnect();
      }
    });
  } finally {
    // After stop(), so each file ends with its process's shutdown.
    if (options.logDir) await writeLogs(options.logDir, system.services);
    await Promise.all([endpoint.stop(), provider.stop()]);
  }
}

/** The run itself, on a started system: load, kills and cuts, drain, invariants. */
async function underChaos(
  system: System,
  { endpoint, provider, apiPort }: { endpoint: WebhookReceiver & { outage(fromMs: number, forMs: number): void }; provider: ChaosProvider; apiPort: number },
  admin: Redis,
  pgAdmin: postgres.Sql,
  options: ChaosOptions,
): Promise<Omit<ChaosReport, 'database' | 'streamPrefix' | 'seconds'>> {
  const { db, prefix: streamPrefix } = system;
  const database = system.database.name;
  let serial = 0;
  // The API on the port the provider's webhooks go to.
  const start = (name: ServiceName, slot: string, ready: boolean) =>
    system.spawn(name, { CONSUMER_NAME: `${slot}-${++serial}`, ...(name === 'api' ? { PORT: String(apiPort) } : {}) }, { ready });
  const [, ...initialWorkers] = await Promise.all([
    start('api', 'api', true),
    start('payment', 'payment-a', true),
    start('payment', 'payment-b', true),
    start('notify', 'notify-a', true),
  ]);
  const workers = new Map<string, RunningService>(['payment-a', 'payment-b', 'notify-a'].map((slot, i) => [slot, initialWorkers[i]!]));

  const progress: ChaosProgress = { phase: 'placing', placed: 0, accepted: 0, settled: 0, kills: 0, connectionKills: 0 };
  const report = () => options.onProgress?.({ ...progress });
  let clientKills = 0;
  let backendKills = 0;

  // --- the load: a steady rate, each order retried with its idempotency key until accepted ---
  const accepted = new Set<string>();
  // Cut sessions may cost a client a 503 (with Retry-After) and a retry, never a 500.
  const badAnswers = new Map<string, number>();
  async function placeOne(i: number) {
    for (let attempt = 1; attempt <= 30; attempt++) {
      try {
        const res = await fetch(`http://127.0.0.1:${apiPort}/orders`, {
          // A request the API never answers is a failure to report, not a reason to wait forever.
          signal: AbortSignal.timeout(30_000),
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `chaos-${i}` },
          body: JSON.stringify({ items: [{ menuItemId: 1 + (i % 12), quantity: 1 + (i % 3) }], customerEmail: `chaos-${i}@example.com`, paymentMethodId: chaosCard(i) }),
        });
        if (res.status === 201) {
          accepted.add(((await res.json()) as { id: string }).id);
          progress.accepted = accepted.size;
          return;
        }
        if (res.status >= 500 && !(res.status === 503 && res.headers.has('retry-after'))) {
          const what = `${res.status} ${((await res.json().catch(() => ({}))) as { error?: { code?: string } }).error?.code ?? ''}`.trim();
          badAnswers.set(what, (badAnswers.get(what) ?? 0) + 1);
        } else await res.arrayBuffer();
      } catch {
        // The API's PostgreSQL connection was cut mid-request: retry with the same key.
      }
      await Bun.sleep(50 * attempt);
    }
  }
  const placing = (async () => {
    const interval = 1000 / options.rate;
    const inFlight: Promise<void>[] = [];
    const t0 = performance.now();
    for (let i = 0; i < options.orders; i++) {
      const due = t0 + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      inFlight.push(placeOne(i));
      progress.placed = i + 1;
    }
    await Promise.all(inFlight);
  })();

  // --- the chaos: kills spread over the placing time, connection cuts in between ---
  const duration = (options.orders / options.rate) * 1000;
  const killAt = Array.from({ length: options.kills }, () => 0.05 + 0.85 * random()).sort().map((f) => f * duration);
  const cutAt = Array.from({ length: Math.max(2, Math.ceil(options.kills / 2)) }, () => random() * duration).sort();
  // The restaurant's endpoint is down for a stretch in the middle of the placing (at most 3 s: the webhook schedule outlasts it).
  endpoint.outage(duration * 0.3, Math.min(3000, duration * 0.3));
  const chaos = (async () => {
    const t0 = performance.now();
    const cuts = ['redis', 'postgres'] as const;
    const events = [...killAt.map((at) => ({ at, kind: 'kill' as const })), ...cutAt.map((at, i) => ({ at, kind: cuts[i % 2]! }))].sort(
      (a, b) => a.at - b.at,
    );
    for (const event of events) {
      const wait = t0 + event.at - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      if (event.kind === 'kill') {
        const slot = pick([...workers.keys()]);
        await workers.get(slot)!.stop('SIGKILL');
        progress.kills++;
        await Bun.sleep(100 + random() * 400);
        // A restarted worker is not waited for: the kills and cuts go on meanwhile.
        workers.set(slot, await start(slot.startsWith('payment') ? 'payment' : 'notify', slot, false));
      } else if (event.kind === 'redis') {
        clientKills += await killWorkerRedisClients(admin);
        progress.connectionKills++;
      } else {
        const [row] = await pgAdmin`
          select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
          where datname = ${database} and application_name in ('api', 'payment', 'notify')`;
        backendKills += row!.n;
        progress.connectionKills++;
      }
      report();
    }
  })();

  const ticker = setInterval(async () => {
    progress.settled = await settledCount(db).catch(() => progress.settled);
    report();
  }, 250);
  let ids: string[] = [];
  try {
    await Promise.all([placing, chaos]);

    // --- drain ---
    progress.phase = 'draining';
    ids = [...accepted];
    const deadline = Date.now() + options.drainTimeoutMs;
    for (;;) {
      const settled = await settledCount(db);
      const dead = (await deadLetteredOrders(admin, streamPrefix)).size;
      const pending = await pendingEntries(admin, db, streamPrefix);
      const webhooks = await webhooksOutstanding(db, endpoint);
      progress.settled = settled;
      report();
      if (settled + dead >= ids.length && pending === 0 && webhooks === 0) break;
      if (Date.now() > deadline) break;
      await Bun.sleep(250);
    }
  } finally {
    clearInterval(ticker);
  }

  // --- invariants, from PostgreSQL and Redis ---
  progress.phase = 'checking';
  report();
  const invariants = [
    // The API is never killed, only its database sessions: every order must get in, through retries with its key.
    { ok: ids.length === options.orders, line: `${ids.length} of ${options.orders} orders accepted by the API (clients retry with their Idempotency-Key)` },
    {
      ok: badAnswers.size === 0,
      line: `${[...badAnswers.values()].reduce((sum, n) => sum + n, 0)} answers to POST /orders a 5xx other than 503 with Retry-After${badAnswers.size ? ` (${[...badAnswers].map(([what, n]) => `${n}x ${what}`).join(', ')})` : ''}`,
    },
    ...(await checkInvariants({ db, admin, streamPrefix, accepted: ids })),
    ...(await paymentInvariants(provider.sandbox, await db.execute<{ id: string; status: string }>(sql`select id::text as id, status::text as status from orders`))),
    ...(await notificationInvariants({ db, mail: system.mail, receiver: endpoint, notifyProcesses: system.services.filter((p) => p.name === 'notify') })),
  ];
  return { invariants, accepted: ids.length, kills: progress.kills, clientKills, backendKills };
}

/** Every process's log lines and stderr, one file each, to see what happened. */
async function writeLogs(logDir: string, services: readonly RunningService[]) {
  for (const [i, service] of services.entries()) {
    const lines = [...service.lines.map((line) => JSON.stringify(line)), ...service.stderr.map((line) => `stderr: ${line}`)];
    await Bun.write(`${logDir}/${String(i).padStart(2, '0')}-${service.name}.log`, `${lines.join('\n')}\n`);
  }
}

/** CLIENT KILL on the workers' Redis connections (named `payment:...` and `notify:...`). */
async function killWorkerRedisClients(admin: Redis): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  const ids = list
    .split('\n')
    .map((line) => Object.fromEntries(line.split(' ').map((pair) => pair.split('='))))
    .filter((client) => /^(payment|notify):/.test(client.name ?? ''))
    .map((client) => client.id as string);
  for (const id of ids) await admin.client('KILL', 'ID', id).catch(() => 0);
  return ids.length;
}

async function settledCount(db: Database): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`select count(*)::int as n from orders where status <> 'processing' and notified_at is not null`);
  return row!.n;
}

/** Dead letters by the order they are about, with their error: payment's and the customer e-mail's (a webhook's is checked with the webhooks). */
async function deadLetteredOrders(admin: Redis, prefix: string): Promise<Map<string, string>> {
  const letters = (await createDeadLetters(admin, prefix).list(undefined, 100_000)).filter((letter) => letter.deadLetterStream !== TOPOLOGY.RestaurantWebhook.deadLetterStream);
  return new Map(letters.flatMap((letter) => (letter.fields.orderId ? [[letter.fields.orderId, letter.error] as const] : [])));
}

/** Entries delivered but not acknowledged, over both consumer groups. */
async function pendingEntries(admin: Redis, db: Database, prefix: string): Promise<number> {
  const report = await pipelineReport({ redis: admin, db, prefix });
  return report.streams.flatMap((stream) => stream.groups).reduce((sum, group) => sum + group.pending, 0);
}

async function checkInvariants({
  db,
  admin,
  streamPrefix,
  accepted,
}: {
  db: Database;
  admin: Redis;
  streamPrefix: string;
  accepted: string[];
}): Promise<Invariant[]> {
  const acceptedSet = new Set(accepted);
  const rows = await db.execute<{ id: string; status: string; notified: boolean; attempts: number }>(sql`
    select o.id::text as id, o.status::text as status, o.notified_at is not null as notified,
      (select count(*)::int from payment_attempts p where p.order_id = o.id) as attempts
    from orders o`);
  const dead = await deadLetteredOrders(admin, streamPrefix);
  const final = rows.filter((r) => r.status !== 'processing');
  const paid = final.filter((r) => r.status === 'paid').length;
  const unaccounted = accepted.filter((id) => {
    const row = rows.find((r) => r.id === id);
    return !(row && row.status !== 'processing') && !dead.has(id);
  });
  const notNotified = final.filter((r) => !r.notified && !dead.has(r.id));
  const pending = await pendingEntries(admin, db, streamPrefix);
  const strangers = rows.filter((r) => !acceptedSet.has(r.id));

  return [
    {
      ok: unaccounted.length === 0,
      line: `${accepted.length} accepted orders: ${paid} paid, ${final.length - paid} payment_failed, ${dead.size} dead-lettered with a reason, ${unaccounted.length} unaccounted for`,
    },
    { ok: strangers.length === 0, line: `${rows.length} orders in the database for ${accepted.length} accepted (client retries created ${strangers.length} extra)` },
    { ok: final.every((r) => r.attempts === 1), line: `${final.filter((r) => r.attempts !== 1).length} final orders without exactly one outcome` },
    { ok: notNotified.length === 0, line: `${notNotified.length} final orders not notified` },
    { ok: pending === 0, line: `${pending} entries still pending in the consumer groups` },
  ];
}

