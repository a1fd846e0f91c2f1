import { sql } from 'drizzle-orm';
import { isFlaky } from '../../src/payment/mock-gateway.ts';
import type { Database } from '../../src/shared/db/client.ts';
import { startSystem, stopAfter, type SpawnProcess } from '../../scripts/lib/start-system.ts';
import type { RunningService, ServiceName } from '../../scripts/lib/spawn-service.ts';
import { builtinLoad } from './builtin-driver.ts';
import type { LoadOutcome } from './load-outcome.ts';
import type { Window } from './pipeline-figures.ts';
import { percentiles, type Percentiles } from './stats.ts';

/** The flaky issuer of the mock gateway: every `every`-th order (isFlaky) has its first `calls` calls fail. */
export interface FlakyIssuer {
  every: number;
  calls: number;
}

/** What became of a window's orders, split by the flaky rule (whether or not the issuer was flaky in that run). */
export interface RetryFigures {
  orders: number;
  /** Orders paid; the rest were declined (none with the zero gateway) or not decided within the wait. */
  paid: number;
  undecided: number;
  /** Orders the gateway's ledger charged more than once (the idempotency key should make it 0). */
  chargedTwice: number;
  /** To paid (orders.created_at -> payment_attempts.created_at) of the orders the flaky rule does not pick. */
  othersToPaidMs: Percentiles;
  /** The same for the orders it picks: in the flaky run, their wait through the schedule. */
  flakyToPaidMs: Percentiles;
}

export interface RetryRun {
  name: string;
  load: LoadOutcome;
  figures: RetryFigures;
}

/**
 * Waits until every order of the window is decided (flaky ones come back after the schedule's steps),
 * then reads each order's time to paid from PostgreSQL's own timestamps and splits them by `isFlaky`,
 * the rule the mock gateway applies, so both runs split the same share of orders the same way.
 */
export async function retryFigures(db: Database, window: Window, every: number, { timeoutMs = 180_000 } = {}): Promise<RetryFigures> {
  const mine = sql`o.created_at >= ${window.from.toISOString()}::timestamptz and o.created_at < ${window.to.toISOString()}::timestamptz and o.customer_email like 'bench%@example.com'`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await db.execute<{ waiting: number }>(sql`select count(*)::int as waiting from orders o where ${mine} and o.status = 'processing'`);
    if (row!.waiting === 0 || Date.now() > deadline) break;
    await Bun.sleep(250);
  }
  const rows = await db.execute<{ id: string; status: string; paid_ms: number | null; charges: number }>(sql`
    select o.id, o.status::text as status,
           extract(epoch from (p.created_at - o.created_at)) * 1000 as paid_ms,
           (select count(*)::int from gateway_charges c where c.idempotency_key = o.id::text) as charges
    from orders o left join payment_attempts p on p.order_id = o.id
    where ${mine}`);
  const toPaid = (flaky: boolean) => rows.flatMap((r) => (isFlaky(r.id, every) === flaky && r.status === 'paid' && r.paid_ms !== null ? [Number(r.paid_ms)] : []));
  return {
    orders: rows.length,
    paid: rows.filter((r) => r.status === 'paid').length,
    undecided: rows.filter((r) => r.status === 'processing').length,
    chargedTwice: rows.filter((r) => r.charges > 1).length,
    othersToPaidMs: percentiles(toPaid(false)),
    flakyToPaidMs: percentiles(toPaid(true)),
  };
}

const fmt = (n: number, digits = 1) => (Number.isNaN(n) ? 'n/a' : n.toFixed(digits));

/** The two runs side by side, and the other orders' to-paid with failures over without. */
export function retryComparisonText(runs: readonly [RetryRun, RetryRun], heading: string): string {
  const [without, withFailures] = runs;
  const row = ({ name, load, figures: f }: RetryRun) => {
    const o = f.othersToPaidMs;
    const flaky = f.flakyToPaidMs;
    return `| ${name} | ${fmt(load.created / load.seconds, 0)} | ${f.orders} | ${f.paid}${f.undecided ? ` (${f.undecided} undecided)` : ''} | ${f.chargedTwice} | ${o.count}: ${fmt(o.p50)} / ${fmt(o.p95)} / ${fmt(o.p99)} / ${fmt(o.max)} | ${flaky.count}: ${fmt(flaky.p50)} / ${fmt(flaky.p99)} |`;
  };
  const ratio = (pick: (p: Percentiles) => number) => pick(withFailures.figures.othersToPaidMs) / pick(without.figures.othersToPaidMs);
  return [
    heading,
    '',
    '| run | created/s | orders | paid | charged twice | other orders: n, to paid p50 / p95 / p99 / max ms | flaky-rule orders: n, to paid p50 / p99 ms |',
    '|---|---|---|---|---|---|---|',
    row(without),
    row(withFailures),
    '',
    `other orders' to paid, with failures / without: p50 ${fmt(ratio((p) => p.p50), 2)}, p95 ${fmt(ratio((p) => p.p95), 2)}, p99 ${fmt(ratio((p) => p.p99), 2)}`,
  ].join('\n');
}

export interface RetryComparisonOptions {
  databaseServerUrl: string;
  redisUrl: string;
  /** Every service's environment (log level, the mock gateway's settings). */
  env: Record<string, string>;
  spawnService: SpawnProcess<RunningService>;
  paymentWorkers: number;
  /** Orders per second of the open loop, the same in both runs. */
  rate: number;
  seconds: number;
  warmupSeconds: number;
  flaky: FlakyIssuer;
  /** PAYMENT_RETRY_SCHEDULE_MS of both runs. */
  schedule: string;
}

/**
 * Issue 20's claim, measured: while every n-th order waits in Redis for its retries, are the others paid
 * as soon as without failures? The same open-loop rate twice, each on a fresh dev topology: the issuer
 * well, then flaky. Both runs make one gateway call per attempt (RETRY_MAX_ATTEMPTS=1: a failed call goes
 * to the schedule at once, no in-call backoff holding its batch) and keep the breaker out of it (one
 * issuer failing is not a gateway outage). The warm-up's orders are all paid before the clock starts;
 * each run ends once its flaky orders are paid too.
 */
export async function compareRetries(options: RetryComparisonOptions): Promise<[RetryRun, RetryRun]> {
  const { rate, seconds, warmupSeconds, flaky } = options;
  const services: ServiceName[] = ['api', ...Array.from({ length: options.paymentWorkers }, () => 'payment' as const), 'notify'];
  const runs: RetryRun[] = [];
  for (const [name, every] of [['without failures', 0], [`every ${flaky.every}th failing ${flaky.calls} attempts`, flaky.every]] as const) {
    console.log(`retries, ${name}: built-in open loop, ${rate} orders/s, ${seconds} s`);
    const system = await startSystem({
      label: 'bench_retries',
      databaseServerUrl: options.databaseServerUrl,
      redisUrl: options.redisUrl,
      env: {
        ...options.env,
        RETRY_MAX_ATTEMPTS: '1',
        PAYMENT_RETRY_SCHEDULE_MS: options.schedule,
        BREAKER_FAILURE_THRESHOLD: '1000000',
        GATEWAY_FLAKY_EVERY: String(every),
        GATEWAY_FLAKY_CALLS: String(flaky.calls),
      },
      poolSize: 4,
      applicationName: 'bench',
      spawnService: options.spawnService,
    });
    const run = await stopAfter(system, async () => {
      const started = await Promise.all(services.map((service, i) => system.spawn(service, service === 'api' ? {} : { CONSUMER_NAME: `bench-${service}-${i}` })));
      const baseUrl = `http://127.0.0.1:${started[0]!.port}`;
      const openLoop = async (label: string, secs: number) => {
        const from = new Date();
        const load = await builtinLoad(baseUrl, label, { kind: 'open', rate }, secs);
        return { load, figures: await retryFigures(system.db, { from, to: new Date() }, flaky.every) };
      };
      if (warmupSeconds > 0) await openLoop('warm-up', warmupSeconds);
      return openLoop(name, seconds);
    });
    runs.push({ name, ...run });
  }
  return runs as [RetryRun, RetryRun];
}
