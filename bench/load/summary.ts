import type { CpuUse } from './cpu-accounting.ts';
import type { DatabaseWork } from './database-work.ts';
import type { LoadOutcome } from './load-outcome.ts';
import type { PipelineFigures } from './pipeline-figures.ts';
import { subscriberGoalLines, type SubscribersRun } from './subscribers.ts';

export interface RunFigures {
  name: string;
  load: LoadOutcome;
  pipeline?: PipelineFigures;
  /** API alone: outbox rows the relay had not published when the load stopped. */
  outboxBacklogAtEnd?: number;
  /** CPU seconds each group of processes used while the load ran. */
  cpuSeconds: CpuUse;
  /** PostgreSQL's work per accepted order, the drain included. */
  databasePerOrder: DatabaseWork;
}

export interface Summary {
  machine: Record<string, unknown>;
  /** The commit measured, and whether src/ had uncommitted changes. */
  source: string;
  connections: number;
  seconds: number;
  driver: 'wrk' | 'built-in';
  /** /proc/loadavg before anything started: other work on the machine disturbs every figure. */
  loadBefore: string;
  runs: RunFigures[];
  /** Peak RSS (VmHWM) of every spawned process, in MB. */
  rssMb: Record<string, number | undefined>;
  pgbenchTps?: number;
  /** The highest paced rate the whole pipeline kept up with, and the steps that found it. */
  maximum?: { rate: number; steps: { rate: number; kept: boolean }[] };
  /** The same search with the payment provider answering in `latencyMs`, against the one above (0 ms). */
  withProviderLatency?: { provider: string; latencyMs: number; rate: number; steps: { rate: number; kept: boolean }[] };
  /** `--subscribers`: the saturated end-to-end run again with that many order event streams open. */
  subscribers?: SubscribersRun;
}

/** The issue's goals, checked against one run's figures on one machine (never in a test). */
const GOALS = { apiAloneRatio: 0.6, endToEndRatio: 0.25, toNotifiedP99Ms: 100, rssMb: 150, slowProviderRatio: 0.8 };

const fmt = (n: number | undefined, digits = 1) => (n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits));
const verdict = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'met' : 'MISSED');

function row(r: RunFigures): string {
  const { load, pipeline: p } = r;
  const errors = Object.entries(load.errors).map(([kind, n]) => `${n}× ${kind}`).join(', ') || 'none';
  const notified = p ? `${fmt(p.notifiedPerSecondDuringLoad, 0)} (${fmt(p.notifiedPerSecondWithDrain, 0)} with ${fmt(p.drainSeconds)} s drain)` : r.outboxBacklogAtEnd !== undefined ? `outbox backlog at end: ${r.outboxBacklogAtEnd}` : '';
  const paid = p ? `${fmt(p.toPaidMs.p50)} / ${fmt(p.toPaidMs.p99)}` : '';
  const told = p ? `${fmt(p.toNotifiedMs.p50)} / ${fmt(p.toNotifiedMs.p95)} / ${fmt(p.toNotifiedMs.p99)}${p.unfinished ? ` (${p.unfinished} unfinished)` : ''}` : '';
  const lat = load.latencyMs;
  return `| ${r.name} | ${load.mode} | ${fmt(load.created / load.seconds, 0)} | ${notified} | ${fmt(lat.p50)} / ${fmt(lat.p95)} / ${fmt(lat.p99)} / ${fmt(lat.max)} | ${paid} | ${told} | ${errors} | ${fmt(load.driverCpu * 100, 0)} % |`;
}

/**
 * Where the CPU went in each run: cores each group kept busy (CPU seconds per second of load) and
 * CPU milliseconds per accepted order. "other" is work on the machine that is not this benchmark's:
 * well above zero, the run was disturbed and should be repeated.
 */
function cpuTable(runs: RunFigures[]): string[] {
  const order = ['api', 'payment', 'notify', 'postgres', 'redis', 'wrk', 'bench (this process)', 'other', 'machine'];
  const groups = [...new Set(runs.flatMap((r) => Object.keys(r.cpuSeconds)))].sort((a, b) => {
    const rank = (g: string) => (order.indexOf(g.replace(/ \d+$/, '')) + 1 || order.length) * 10 + Number(g.match(/ (\d+)$/)?.[1] ?? 0);
    return rank(a) - rank(b);
  });
  return [
    `| run | ${groups.map((g) => (g === 'machine' ? 'whole machine' : g)).join(' | ')} | PostgreSQL per order: transactions, tuples read, WAL kB |`,
    `|---|${groups.map(() => '---').join('|')}|---|`,
    ...runs.map((r) => {
      const cells = groups.map((g) => {
        const used = r.cpuSeconds[g] ?? 0;
        return `${fmt(used / r.load.seconds, 2)} (${fmt((used * 1000) / Math.max(1, r.load.created), 2)})`;
      });
      const db = r.databasePerOrder;
      return `| ${r.name} | ${cells.join(' | ')} | ${fmt(db.transactions)}, ${fmt(db.tuplesRead, 0)}, ${fmt(db.walKb)} |`;
    }),
  ];
}

/** The goal lines: each figure, its ratio to pgbench where there is one, and met or MISSED. */
function goals(s: Summary): string[] {
  const tps = s.pgbenchTps;
  const lines = [`pgbench ceiling (bench/pgbench/order.sql, ${s.connections} clients): ${fmt(tps, 0)} tps`];
  const apiAlone = s.runs.find((r) => r.name === 'api alone');
  if (apiAlone) {
    const perSecond = apiAlone.load.created / apiAlone.load.seconds;
    const ratio = tps ? perSecond / tps : undefined;
    lines.push(`api alone: ${fmt(perSecond, 0)} orders/s = ${fmt(ratio, 2)} of pgbench (goal >= ${GOALS.apiAloneRatio}: ${verdict(ratio === undefined ? undefined : ratio >= GOALS.apiAloneRatio)})`);
  }
  const saturated = s.runs.find((r) => r.name === 'end to end' || r.name === 'running system');
  if (saturated?.pipeline) {
    const accepted = saturated.load.created / saturated.load.seconds;
    const notified = saturated.pipeline.notifiedPerSecondDuringLoad;
    lines.push(`${saturated.name}, saturated (${saturated.load.mode}): ${fmt(accepted, 0)} accepted/s, ${fmt(notified, 0)} notified/s = ${fmt(tps ? notified / tps : undefined, 2)} of pgbench`);
  }
  if (s.maximum) {
    const ratio = tps ? s.maximum.rate / tps : undefined;
    const verified = s.maximum.steps.some((step) => step.kept && step.rate === s.maximum!.rate);
    lines.push(
      `end to end, highest rate kept up with: ${s.maximum.rate} orders notified/s${verified ? '' : ' (NOT verified: no step kept up)'} = ${fmt(ratio, 2)} of pgbench (goal >= ${GOALS.endToEndRatio}: ${verdict(ratio === undefined ? undefined : ratio >= GOALS.endToEndRatio)}); steps ${s.maximum.steps.map((step) => `${step.rate} ${step.kept ? 'kept' : 'behind'}`).join(', ')}`,
    );
  }
  if (s.maximum && s.withProviderLatency) {
    const slow = s.withProviderLatency;
    const ratio = s.maximum.rate > 0 ? slow.rate / s.maximum.rate : undefined;
    lines.push(
      `end to end with the ${slow.provider} provider answering in ${slow.latencyMs} ms: ${slow.rate} orders notified/s = ${fmt(ratio, 2)} of the rate at 0 ms (goal >= ${GOALS.slowProviderRatio}: ${verdict(ratio === undefined ? undefined : ratio >= GOALS.slowProviderRatio)}); steps ${slow.steps.map((step) => `${step.rate} ${step.kept ? 'kept' : 'behind'}`).join(', ')}`,
    );
  }
  const open = s.runs.find((r) => r.name === 'half the maximum' || r.name === 'open loop');
  if (open?.pipeline) {
    const p99 = open.pipeline.toNotifiedMs.p99;
    lines.push(
      `${open.name === 'open loop' ? '' : `${open.name}, `}${open.load.mode}: POST p50 / p99 ${fmt(open.load.latencyMs.p50)} / ${fmt(open.load.latencyMs.p99)} ms, to notified p50 / p99 ${fmt(open.pipeline.toNotifiedMs.p50)} / ${fmt(p99)} ms (goal p99 <= ${GOALS.toNotifiedP99Ms} ms: ${verdict(Number.isNaN(p99) ? undefined : p99 <= GOALS.toNotifiedP99Ms)})`,
    );
  }
  lines.push(...subscriberGoalLines(s.subscribers));
  const rss = Object.entries(s.rssMb);
  if (rss.length > 0) {
    const worst = Math.max(...rss.map(([, mb]) => mb ?? Number.NaN));
    lines.push(`peak RSS: ${rss.map(([name, mb]) => `${name} ${fmt(mb, 0)} MB`).join(', ')} (goal <= ${GOALS.rssMb} MB each: ${verdict(Number.isNaN(worst) ? undefined : worst <= GOALS.rssMb)})`);
  }
  return lines;
}

/** Prints the table and the goal lines, and writes both (and the raw figures) to bench/results/. */
export async function printSummary(s: Summary, resultsDir: URL): Promise<void> {
  const m = s.machine;
  const text = [
    `Load benchmark, ${new Date().toISOString()}: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Bun ${m.bun}; ${s.seconds} s per run, closed loops by ${s.driver}; source ${s.source}; load average before: ${s.loadBefore}`,
    '',
    '| run | load | created/s | notified/s during load | POST p50 / p95 / p99 / max ms | to paid p50 / p99 ms | to notified p50 / p95 / p99 ms | errors | load generator CPU |',
    '|---|---|---|---|---|---|---|---|---|',
    ...s.runs.map(row),
    '',
    'CPU: cores kept busy while the load ran (CPU ms per accepted order)',
    '',
    ...cpuTable(s.runs),
    '',
    ...goals(s),
  ].join('\n');
  console.log(`\n${text}\n`);
  const stamp = new Date().toISOString().replaceAll(':', '-');
  await Bun.write(new URL(`load-${stamp}.json`, resultsDir), `${JSON.stringify(s, null, 2)}\n`);
  await Bun.write(new URL(`load-${stamp}.md`, resultsDir), `${text}\n`);
  console.log(`results: bench/results/load-${stamp}.json and .md`);
}
