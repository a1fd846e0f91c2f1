/**
 * `bun run bench`: what one order costs the system, against plain SQL doing the same writes.
 *
 *   1. The API alone (with its outbox relay publishing to Redis, no workers): orders/s, closed loop.
 *   2. End to end, the `bun run dev` topology (one api, one payment, one notify; gateway at zero
 *      latency, errors and declines): a closed loop that saturates it, then the highest paced rate
 *      the pipeline keeps up with (bisection), then an open loop at half that rate for latency.
 *   3. pgbench with bench/pgbench/order.sql at the same concurrency, nothing else running: the ceiling.
 *   Or alone, `--only retries` (bench/load/retry-comparison.ts): one open-loop rate twice, without
 *   failures and with a flaky issuer whose orders wait in Redis through the retry schedule; the other
 *   orders' to-paid percentiles of both runs and their ratio.
 *   Or alone, `--only smtp` (bench/load/smtp-cost.ts): CPU per customer e-mail, the sender (the real
 *   email channel, in this process) and the SMTP sink (a process of its own) apart; no database.
 *   Or alone, `--only pg` (bench/load/pg-profile.ts): PostgreSQL's work per order by process and statement
 *   (pg_stat_statements, reset for the run's database), table, index and WAL record (pg_walinspect), at an
 *   open-loop rate (--rate, default 80/s); skipped, saying how to load it, without pg_stat_statements.
 *   Every spawned process's peak RSS (VmHWM) is read just before it stops.
 *
 * Closed and paced loops run with wrk when it is installed (`apt-get install -y wrk`), so the load
 * generator is C, not JavaScript competing with the system's own; otherwise with fetch from this
 * process. The open loop is always this process's (wrk has no open loop); it reports its CPU.
 *
 *   bun run bench                                # all of the above, 32 connections, 20 s per run
 *   bun run bench --connections 64 --duration 30
 *   bun run bench --rate 300                     # open loop at 300/s; no search for the maximum
 *   bun run bench --driver built-in              # fetch from this process even when wrk is there
 *   bun run bench --url http://localhost:3000    # a running system: closed loop + pgbench only
 *   bun run bench --only api --profile /tmp/prof # one phase (api or e2e), services under bun --cpu-prof
 *   bun run bench --smol                         # services under bun --smol (smaller heap)
 *   bun run bench --history 100000               # each database starts with 100,000 past orders, analyzed
 *   bun run bench --only e2e --subscribers 1000  # the saturated run, the search for the highest rate kept up
 *                                                # with and the open loop again, each with 1,000 GET
 *                                                # /orders/{id}/events streams open, following its orders:
 *                                                # throughput with and without, commit-to-stream, the API's RSS
 *                                                # (with --rate: no search, the saturated throughput only)
 *   bun run bench --only retries --rate 100 --duration 15 [--flaky-every 5 --flaky-calls 3 --retry-schedule 1000,2000,4000]
 *   bun run bench --only smtp [--messages 5000 --concurrency 32]
 *   bun run bench --only pg --duration 20 [--rate 80 --subscribers 100]
 *   bun run bench --only e2e --provider stripe --provider-latency 300
 *                                                # payments through the Stripe SDK at the sandbox; the highest
 *                                                # rate kept up with at 0 ms and at 300 ms, and their ratio
 *
 * End-to-end latencies are read from the database timestamps (orders.created_at ->
 * payment_attempts.created_at -> orders.notified_at, when the mail server took the e-mail), not from polling.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { createDb, type Database } from '../src/shared/db/client.ts';
import { loadConfigOrExit } from '../src/shared/runtime/startup.ts';
import { startSystem, stopAfter } from '../scripts/lib/start-system.ts';
import type { ServiceName } from '../scripts/lib/spawn-service.ts';
import { builtinLoad } from './load/builtin-driver.ts';
import { countCpu, type CpuUse } from './load/cpu-accounting.ts';
import { countDatabaseWork, type DatabaseWork } from './load/database-work.ts';
import { KEEP_UP, maxKeptRate } from './load/max-rate.ts';
import type { LoadOutcome } from './load/load-outcome.ts';
import { addHistory } from './load/history.ts';
import { logToFile } from './load/log-to-file.ts';
import { pgbenchCeiling } from './load/pgbench.ts';
import { pipelineFigures, type PipelineFigures } from './load/pipeline-figures.ts';
import { peakRssMb } from './load/process-memory.ts';
import { compareRetries, retryComparisonText } from './load/retry-comparison.ts';
import { smtpCost, smtpCostText } from './load/smtp-cost.ts';
import { profileDatabase } from './load/pg-profile.ts';
import { pgProfileText } from './load/pg-profile-text.ts';
import { printSummary, type Summary } from './load/summary.ts';
import { findWrk, wrkLoad } from './load/wrk-driver.ts';
import { startSubscribers, writtenDelays } from './load/subscribers.ts';
import { machine } from './machine.ts';
import { spawnStripeSandbox } from '../scripts/lib/stripe-sandbox.ts';

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    url: { type: 'string' },
    connections: { type: 'string', default: '32' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    rate: { type: 'string' },
    driver: { type: 'string', default: 'auto' },
    gateway: { type: 'string', default: 'zero' },
    provider: { type: 'string', default: 'mock' },
    'provider-latency': { type: 'string' },
    'payment-workers': { type: 'string', default: '1' },
    'log-level': { type: 'string', default: 'info' },
    'log-dir': { type: 'string' },
    profile: { type: 'string' },
    only: { type: 'string' },
    smol: { type: 'boolean', default: false },
    history: { type: 'string', default: '0' },
    subscribers: { type: 'string', default: '0' },
    // --only retries: the flaky issuer, and the schedule its orders wait through (short, so a run ends soon).
    'flaky-every': { type: 'string', default: '5' },
    'flaky-calls': { type: 'string', default: '3' },
    'retry-schedule': { type: 'string', default: '1000,2000,4000' },
    // --only smtp: e-mails measured (after a tenth as many unmeasured), and sends at a time.
    messages: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '32' },
  },
});

const config = loadConfigOrExit(Bun.env);
const connections = Number(values.connections);
const seconds = Number(values.duration);
const warmupSeconds = Number(values.warmup);
const GATEWAYS: Record<string, Record<string, string>> = {
  zero: { PAYMENT_PROVIDER: 'mock', GATEWAY_LATENCY_MS: '0', GATEWAY_ERROR_RATE: '0', GATEWAY_DECLINE_RATE: '0' },
  realistic: { PAYMENT_PROVIDER: 'mock', GATEWAY_LATENCY_MS: '30', GATEWAY_ERROR_RATE: '0.05', GATEWAY_DECLINE_RATE: '0.05' },
};
const gateway = GATEWAYS[values.gateway];
if (!gateway) throw new Error(`--gateway ${values.gateway}: expected ${Object.keys(GATEWAYS).join(' or ')}`);
if (values.provider !== 'mock' && values.provider !== 'stripe') throw new Error(`--provider ${values.provider}: expected mock or stripe`);
const providerLatencyMs = values['provider-latency'] === undefined ? undefined : Number(values['provider-latency']);
if (providerLatencyMs !== undefined && !(providerLatencyMs >= 0)) throw new Error(`--provider-latency ${values['provider-latency']}: expected milliseconds`);

/**
 * The payment provider of a run, answering in `latencyMs` (+-50 %): the in-process mock, or the Stripe
 * sandbox as a process of its own (its ledger in SQLite, webhooks off: the replies carry every outcome).
 */
async function providerFor(latencyMs: number): Promise<{ env: Record<string, string>; stop(): Promise<void> }> {
  if (values.provider === 'mock') return { env: { ...gateway, GATEWAY_LATENCY_MS: String(latencyMs || gateway!.GATEWAY_LATENCY_MS) }, stop: async () => {} };
  const sandbox = await spawnStripeSandbox({
    STRIPE_SANDBOX_LATENCY_MS: String(Math.round(latencyMs / 2)),
    STRIPE_SANDBOX_LATENCY_JITTER_MS: String(latencyMs),
    STRIPE_SANDBOX_DB: join(logDir, `stripe-sandbox-${Date.now()}.sqlite`),
  });
  return { env: { PAYMENT_PROVIDER: 'stripe', STRIPE_API_URL: sandbox.url }, stop: () => sandbox.stop() };
}
if (values.only && !['api', 'e2e', 'retries', 'smtp', 'pg'].includes(values.only)) throw new Error(`--only ${values.only}: expected api, e2e, retries, smtp or pg`);
/** Phases that run alone, with no system and no pgbench after them. */
const alone = values.only === 'retries' || values.only === 'smtp' || values.only === 'pg';
if (!['auto', 'wrk', 'built-in', 'builtin'].includes(values.driver)) throw new Error(`--driver ${values.driver}: expected auto, wrk or built-in`);
const wrk = values.driver === 'built-in' || values.driver === 'builtin' ? undefined : findWrk();
if (values.driver === 'wrk' && !wrk) throw new Error('--driver wrk: wrk is not on the PATH (Debian: apt-get install -y wrk)');
if (!wrk) console.warn('wrk not found (apt-get install -y wrk): closed loops use the built-in fetch driver, which shares the CPU with the system');
const logDir = values['log-dir'] ?? mkdtempSync(join(tmpdir(), 'bench-logs-'));

/** Where the load goes: the API's URL, the system's database, and the pids to count CPU for. */
interface Target {
  baseUrl: string;
  db: Database;
  pids: Record<string, number>;
  /** The system's database, for a process of the bench's own (the subscribers). */
  databaseUrl?: string;
}

/** Runs `body` on a fresh system with `services` started, then reads their peak RSS before they stop. */
async function onFreshSystem<T>(label: string, services: ServiceName[], body: (target: Target) => Promise<T>, { latencyMs = 0 } = {}) {
  const provider = await providerFor(latencyMs);
  const system = await startSystem({
    label: `bench_${label}`,
    databaseServerUrl: config.database.url,
    redisUrl: config.redisUrl,
    env: { LOG_LEVEL: values['log-level'], ...gateway, ...provider.env },
    poolSize: 4,
    applicationName: 'bench',
    spawnService: logToFile(logDir, { profileDir: values.profile, smol: values.smol }),
  });
  return stopAfter(system, async () => {
    await addHistory(system.db, Number(values.history));
    // Every service answering /health before the clock starts, so start-up is not measured.
    const started = await Promise.all(services.map((name, i) => system.spawn(name, name === 'api' ? {} : { CONSUMER_NAME: `bench-${name}-${i}` })));
    const label = (name: ServiceName, i: number) => (services.filter((s) => s === name).length > 1 ? `${name} ${i}` : name);
    const pids = Object.fromEntries(started.map((service, i) => [label(service.name, i), service.proc.pid]));
    const result = await body({ baseUrl: `http://127.0.0.1:${started[0]!.port}`, db: system.db, pids, databaseUrl: system.database.url });
    const rssMb: Record<string, number | undefined> = {};
    for (const [name, pid] of Object.entries(pids)) rssMb[name] = await peakRssMb(pid);
    return { ...result, rssMb };
  }).finally(() => provider.stop());
}

/** A run's load, what the pipeline did with it, and the CPU each process spent meanwhile. */
interface Measured {
  load: LoadOutcome;
  pipeline?: PipelineFigures;
  cpuSeconds: CpuUse;
  databasePerOrder: DatabaseWork;
}

type Pace = { kind: 'closed' } | { kind: 'paced'; rate: number } | { kind: 'open'; rate: number };

/**
 * One load run: closed (wrk, else built-in), paced (wrk, else the built-in open loop) or open
 * (always built-in: wrk has no open loop). With `pipeline`, waits for the run's orders to be
 * notified and reads their journeys.
 */
async function measure(target: Target, label: string, pace: Pace, secs: number, pipeline: boolean): Promise<Measured> {
  const cpu = await countCpu(target.pids);
  const database = await countDatabaseWork(target.db);
  const from = new Date();
  const load =
    pace.kind === 'open' || !wrk
      ? await builtinLoad(target.baseUrl, label, pace.kind === 'closed' ? { kind: 'closed', connections } : { kind: 'open', rate: pace.rate }, secs)
      : await wrkLoad(wrk, target.baseUrl, { connections, seconds: secs, rate: pace.kind === 'paced' ? pace.rate : undefined });
  const to = new Date();
  const cpuSeconds = await cpu.stop();
  const figures = pipeline ? await pipelineFigures(target.db, { from, to }) : undefined;
  // After the run's orders are through (or the API alone has answered), so all their work counts.
  return { load, cpuSeconds, pipeline: figures, databasePerOrder: await database.stop(load.created) };
}

/**
 * A few seconds of load nobody measures, so JIT, prepared statements and pools are warm before the
 * clock starts. The API alone gets a closed loop; a whole pipeline a paced 200 orders/s, waited out,
 * so the measured run starts with no backlog.
 */
async function warmUp(target: Target, pipeline: boolean) {
  if (warmupSeconds <= 0) return;
  await measure(target, 'warm-up', pipeline ? { kind: 'paced', rate: 200 } : { kind: 'closed' }, warmupSeconds, pipeline);
}

async function outboxBacklog(db: Database): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`select count(*)::int as n from outbox where published_at is null`);
  return row!.n;
}

const loadBefore = (await Bun.file('/proc/loadavg').text().catch(() => 'n/a')).split(' ').slice(0, 3).join(' ');
/** What was measured: the commit, and how many files under src/ differ from it (uncommitted work). */
function sourceState(): string {
  const git = (...args: string[]) => Bun.spawnSync(['git', ...args], { cwd: new URL('..', import.meta.url).pathname }).stdout.toString().trim();
  const changed = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  return `${git('rev-parse', '--short', 'HEAD') || 'unknown commit'}${changed ? ` + ${changed} uncommitted file(s) under src/` : ''}`;
}
const summary: Summary = { machine: await machine(), source: sourceState(), connections, seconds, driver: wrk ? 'wrk' : 'built-in', loadBefore, runs: [], rssMb: {} };
const closedMode = `${wrk ? 'wrk' : 'built-in driver'}, ${connections} connections, ${seconds} s`;

if (values.url) {
  const { db, close } = createDb(config.database.url, { max: 4 });
  console.log(`running system: ${closedMode}`);
  summary.runs.push({ name: 'running system', ...(await measure({ baseUrl: values.url.replace(/\/$/, ''), db, pids: {} }, 'running system', { kind: 'closed' }, seconds, true)) });
  await close();
}
if (!values.url && values.only !== 'e2e' && !alone) {
  const apiAlone = await onFreshSystem('api', ['api'], async (target) => {
    await warmUp(target, false);
    console.log(`api alone: ${closedMode}`);
    const measured = await measure(target, 'api alone', { kind: 'closed' }, seconds, false);
    return { ...measured, outboxBacklogAtEnd: await outboxBacklog(target.db) };
  });
  summary.runs.push({ name: 'api alone', ...apiAlone });
  for (const [name, mb] of Object.entries(apiAlone.rssMb)) summary.rssMb[`${name} (api alone)`] = mb;
}
if (!values.url && values.only !== 'api' && !alone) {
  const services: ServiceName[] = ['api', ...Array.from({ length: Number(values['payment-workers']) }, () => 'payment' as const), 'notify'];
  // Each run on a fresh system: a run that fell behind leaves a backlog and a bloated outbox
  // behind it, which would slow whatever ran next on the same system.
  const onPipeline = async (label: string, pace: Pace, latencyMs = 0) => {
    const run = await onFreshSystem(
      'e2e',
      services,
      async (target) => {
        await warmUp(target, true);
        return measure(target, label, pace, seconds, true);
      },
      { latencyMs },
    );
    for (const [name, mb] of Object.entries(run.rssMb)) {
      const key = `${name} (end to end)`;
      summary.rssMb[key] = Math.max(summary.rssMb[key] ?? 0, mb ?? Number.NaN);
    }
    return run;
  };
  console.log(`end to end: ${closedMode}`);
  const saturated = await onPipeline('end to end', { kind: 'closed' });
  summary.runs.push({ name: 'end to end', ...saturated });
  const subscriberCount = Number(values.subscribers);
  /** A run as onPipeline's, on a fresh system, with `--subscribers` clients following its orders live (bench/load/subscribers.ts). */
  const withStreams = async (name: string, pace: Pace, listed = true) => {
    console.log(`${name}, ${subscriberCount} streams open`);
    const run = await onFreshSystem('e2e', services, async (target) => {
      await warmUp(target, true);
      const subscribers = startSubscribers({ baseUrl: target.baseUrl, databaseUrl: target.databaseUrl!, count: subscriberCount });
      // The streams open before the clock starts: what is measured is the load with them open, not their connecting.
      await subscribers.ready();
      const measured = await measure({ ...target, pids: { ...target.pids, subscribers: subscribers.pid } }, name, pace, seconds, true);
      const written = await writtenDelays(target.baseUrl);
      return { ...measured, subscribers: { ...(await subscribers.stop()), written } };
    });
    if (listed) summary.runs.push({ name: `${name}, ${subscriberCount} streams`, ...run });
    return run;
  };
  if (subscriberCount > 0) {
    const followed = await withStreams('end to end', { kind: 'closed' });
    const notified = (run: Measured) => run.pipeline!.notifiedPerSecondDuringLoad;
    summary.subscribers = { saturated: { without: notified(saturated), with: notified(followed), figures: followed.subscribers }, apiRssMb: followed.rssMb.api };
  }
  let rate = Number(values.rate);
  if (!values.rate) {
    console.log(`highest rate the pipeline keeps up with: ${wrk ? 'wrk paced' : 'built-in open loop'}, ${seconds} s per step, each on a fresh system`);
    const measured = new Map<number, Measured>();
    const found = await maxKeptRate(saturated.pipeline!.notifiedPerSecondDuringLoad, saturated.load.created / saturated.load.seconds, async (rate) => {
      const step = await onPipeline(`${rate}/s`, { kind: 'paced', rate });
      measured.set(rate, step);
      return { load: step.load, pipeline: step.pipeline! };
    });
    summary.maximum = { rate: found.rate, steps: found.steps.map((step) => ({ rate: step.rate, kept: step.kept })) };
    summary.runs.push(...found.steps.map((step) => ({ ...measured.get(step.rate)!, name: `step ${step.rate}/s: ${step.kept ? 'kept up' : 'fell behind'}` })));
    if (summary.subscribers) {
      // The same search with the streams open: capacity against capacity. A saturated closed loop
      // also measures how the CPU split between the API taking orders and the workers, which moves by
      // +-10 % from one fresh system to the next. Searched downwards from the rate kept without them.
      console.log(`highest rate kept up with, ${subscriberCount} streams open`);
      const withMeasured = new Map<number, Measured>();
      const followedKept = await maxKeptRate(found.rate * 0.8, found.rate * 1.05 + 1, async (stepRate) => {
        const step = await withStreams(`${stepRate}/s`, { kind: 'paced', rate: stepRate }, false);
        withMeasured.set(stepRate, step);
        summary.subscribers!.apiRssMb = Math.max(summary.subscribers!.apiRssMb ?? 0, step.rssMb.api ?? 0);
        return { load: step.load, pipeline: step.pipeline! };
      });
      summary.subscribers.kept = { without: found.rate, with: followedKept.rate };
      summary.runs.push(...followedKept.steps.map((step) => ({ ...withMeasured.get(step.rate)!, name: `step ${step.rate}/s, ${subscriberCount} streams: ${step.kept ? 'kept up' : 'fell behind'}` })));
    }
    rate = Math.max(1, Math.round(found.rate / 2));
    if (providerLatencyMs !== undefined) {
      // The same search with the provider taking its time: handlers wait on the network, not the CPU.
      console.log(`the same, with the ${values.provider} provider answering in ${providerLatencyMs} ms`);
      const slowSaturated = await onPipeline(`end to end, provider ${providerLatencyMs} ms`, { kind: 'closed' }, providerLatencyMs);
      summary.runs.push({ name: `end to end, provider ${providerLatencyMs} ms`, ...slowSaturated });
      const slowMeasured = new Map<number, Measured>();
      const slow = await maxKeptRate(Math.min(slowSaturated.pipeline!.notifiedPerSecondDuringLoad, found.rate), Math.ceil(found.rate * 1.1) + 1, async (stepRate) => {
        const step = await onPipeline(`${stepRate}/s, provider ${providerLatencyMs} ms`, { kind: 'paced', rate: stepRate }, providerLatencyMs);
        slowMeasured.set(stepRate, step);
        return { load: step.load, pipeline: step.pipeline! };
        // Kept up: the same bound on the backlog, plus the slowest provider answers (latency +50 %) an order
        // must wait for: one with the mock, two with Stripe (create, then confirm).
      }, { keepUp: { ...KEEP_UP, toNotifiedP99Ms: KEEP_UP.toNotifiedP99Ms + providerLatencyMs * 1.5 * (values.provider === 'stripe' ? 2 : 1) } });
      summary.withProviderLatency = { provider: values.provider, latencyMs: providerLatencyMs, rate: slow.rate, steps: slow.steps.map((step) => ({ rate: step.rate, kept: step.kept })) };
      summary.runs.push(...slow.steps.map((step) => ({ ...slowMeasured.get(step.rate)!, name: `step ${step.rate}/s at ${providerLatencyMs} ms: ${step.kept ? 'kept up' : 'fell behind'}` })));
    }
  }
  console.log(`${values.rate ? 'open loop' : 'half the maximum'}: built-in open loop, ${rate} orders/s, ${seconds} s`);
  summary.runs.push({ name: values.rate ? 'open loop' : 'half the maximum', ...(await onPipeline('open loop', { kind: 'open', rate })) });
  if (summary.subscribers) {
    // Where the pipeline keeps up, so a change's way to its stream is not a queue's.
    const followed = await withStreams(values.rate ? 'open loop' : 'half the maximum', { kind: 'open', rate });
    summary.subscribers.open = { rate, figures: followed.subscribers };
    summary.subscribers.apiRssMb = Math.max(summary.subscribers.apiRssMb ?? 0, followed.rssMb.api ?? 0);
  }
}

/** The first line of a phase's text: what ran, when, on what, from which source, how busy the machine was. */
const heading = (what: string) =>
  `${what}, ${new Date().toISOString()}: ${summary.machine.cores} cores, Bun ${summary.machine.bun}; source ${summary.source}; load average before: ${loadBefore}`;

/** Prints a phase's text and keeps it, with its figures, as bench/results/<kind>-<time>.json and .md. */
async function keepResults(kind: string, figures: unknown, text: string) {
  console.log(`\n${text}\n`);
  const stamp = new Date().toISOString().replaceAll(':', '-');
  await Bun.write(new URL(`results/${kind}-${stamp}.json`, import.meta.url), `${JSON.stringify(figures, null, 2)}\n`);
  await Bun.write(new URL(`results/${kind}-${stamp}.md`, import.meta.url), `${text}\n`);
  console.log(`results: bench/results/${kind}-${stamp}.json and .md`);
}

if (values.only === 'smtp') {
  const cost = await smtpCost({ messages: Number(values.messages), concurrency: Number(values.concurrency), warmup: Math.ceil(Number(values.messages) / 10), from: config.notify.email.from, currency: config.payment.currency });
  await keepResults('smtp', cost, smtpCostText(cost, heading('CPU per e-mail')));
} else if (values.only === 'pg') {
  const rate = Number(values.rate ?? 80);
  const profile = await profileDatabase({
    databaseServerUrl: config.database.url,
    redisUrl: config.redisUrl,
    env: { LOG_LEVEL: values['log-level'], ...gateway },
    spawnService: logToFile(logDir, { profileDir: values.profile, smol: values.smol }),
    rate,
    seconds,
    warmupSeconds,
    subscribers: Number(values.subscribers),
  });
  if (profile) {
    await keepResults('pg', profile, pgProfileText(profile, `${heading('PostgreSQL per order')}; open loop ${rate}/s for ${seconds} s, the dev topology, mock provider`));
  }
} else if (values.only === 'retries') {
  const rate = Number(values.rate ?? 100);
  const flaky = { every: Number(values['flaky-every']), calls: Number(values['flaky-calls']) };
  const runs = await compareRetries({
    databaseServerUrl: config.database.url,
    redisUrl: config.redisUrl,
    env: { LOG_LEVEL: values['log-level'], ...gateway },
    spawnService: logToFile(logDir, { profileDir: values.profile, smol: values.smol }),
    paymentWorkers: Number(values['payment-workers']),
    rate,
    seconds,
    warmupSeconds,
    flaky,
    schedule: values['retry-schedule'],
  });
  const text = retryComparisonText(runs, [
    heading('Retries on a schedule'),
    `open loop ${rate} orders/s for ${seconds} s per run, each on a fresh system; flaky issuer: every ${flaky.every}th order's first ${flaky.calls} calls fail;`,
    `PAYMENT_RETRY_SCHEDULE_MS=${values['retry-schedule']}, RETRY_MAX_ATTEMPTS=1; "other orders": those isFlaky(id, ${flaky.every}) does not pick, in both runs`,
  ].join('\n'));
  await keepResults('retries', { rate, seconds, flaky, schedule: values['retry-schedule'], runs }, text);
} else {
  // With every system stopped, so pgbench and the services never compete for the cores.
  summary.pgbenchTps = await pgbenchCeiling(config.database.url, connections, Math.max(5, Math.round(seconds / 2)));
  await printSummary(summary, new URL('results/', import.meta.url));
}
if (!values['log-dir']) rmSync(logDir, { recursive: true, force: true });
else console.log(`logs: ${logDir}`);
