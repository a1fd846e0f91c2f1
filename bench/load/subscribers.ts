import { forEachLine } from '../../scripts/lib/read-lines.ts';
import { percentiles, type Percentiles } from './stats.ts';

/** What the subscribers of one run saw (see subscriber-process.ts). */
export interface SubscriberFigures {
  /** Watchers, each holding a stream open the whole run (and up to a tenth as many customers besides). */
  count: number;
  /** Streams the API accepted over the run, and how many of them were customers following an order of the load (one each). */
  opened: number;
  followedLive: number;
  /** Streams refused, by HTTP status (503: SSE_MAX_CONNECTIONS reached). */
  refused: Record<string, number>;
  errors: number;
  messages: number;
  /** Streams open at once (watchers and customers), and customers' alone, sampled every 250 ms over the run (the drain included). */
  openAtOnce: { min: number; median: number; max: number };
  customersAtOnce: { median: number; max: number };
  /** From a change's commit (payment_attempts.created_at, deliveries.sent_at) to its message's arrival. */
  commitToStreamMs: Percentiles;
  /** The same as the API tells it: from the commit to the message written to the streams, this process's scheduling left out. */
  written?: WrittenDelays;
}

/** The API's `order_event_delay_seconds` histogram, read from its /metrics at the end of a run. */
export interface WrittenDelays {
  count: number;
  /** Changes written within the goal's bound (a bucket edge of the histogram). */
  withinGoal: number;
  /** Interpolated within its bucket, as Prometheus' histogram_quantile does. */
  p99Ms: number;
}

/** What `--subscribers` adds: the saturated end-to-end run and the open loop again, with the streams open. */
export interface SubscribersRun {
  /** Orders notified per second of the saturated load, without and with the streams. */
  saturated: { without: number; with: number; figures: SubscriberFigures };
  /** The open loop's rate with the streams: the commit-to-stream latency where the system keeps up. */
  open?: { rate: number; figures: SubscriberFigures };
  /**
   * The highest paced rate kept up with, without and with the streams (when the bench searched it, that
   * is without `--rate`): the pipeline's capacity, where the saturated figures above also hold how the
   * CPU happened to split between the API taking orders it cannot pass on and the workers.
   */
  kept?: { without: number; with: number };
  /** Peak RSS of the API in the runs with the streams. */
  apiRssMb?: number;
}

/** The issue's goals for 1,000 streams open during the end-to-end load. */
const GOALS = { throughputRatio: 0.9, commitToStreamP99Ms: 50, apiRssMb: 150 };

/**
 * Starts the subscribers in a process of their own (its pid, for the CPU table): `count` watchers
 * holding a stream open the whole run, and customers following each order of the load as it comes,
 * a tenth of `count` at most at once; ready() waits until the watchers' streams are open; stop() ends
 * them and returns what they saw.
 */
export function startSubscribers({ baseUrl, databaseUrl, count }: { baseUrl: string; databaseUrl: string; count: number }) {
  const child = Bun.spawn([process.execPath, new URL('subscriber-process.ts', import.meta.url).pathname], {
    env: {
      ...Bun.env,
      // Bun's fetch holds at most 256 requests at once unless told otherwise; a stream is one for its whole life.
      BUN_CONFIG_MAX_HTTP_REQUESTS: String(count + Math.ceil(count / 10) + 64),
      SUBSCRIBERS_BASE_URL: baseUrl,
      SUBSCRIBERS_DATABASE_URL: databaseUrl,
      SUBSCRIBERS_COUNT: String(count),
    },
    stdout: 'pipe',
    stderr: 'inherit',
  });
  let report:
    | { opened: number; followedLive: number; refused: Record<string, number>; errors: number; messages: number; latenciesMs: number[]; openSamples: number[]; customerSamples: number[] }
    | undefined;
  let watchersOpen = () => {};
  const opened = new Promise<void>((resolve) => (watchersOpen = resolve));
  const reading = forEachLine(child.stdout, (line) => {
    const parsed = JSON.parse(line);
    if ('watchersOpen' in parsed) watchersOpen();
    if ('latenciesMs' in parsed) report = parsed;
  });
  return {
    pid: child.pid,
    /**
     * Resolves once every watcher's stream is open; rejects if that takes longer than `deadlineMs` or the
     * process ends first. A process that is late is killed: nothing would stop() it after the rejection.
     */
    async ready(deadlineMs = 60_000): Promise<void> {
      let timer: Timer | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the subscribers' ${count} streams were not all open after ${deadlineMs} ms`)), deadlineMs)));
      const gone = child.exited.then((code) => Promise.reject(new Error(`the subscribers exited with ${code} before their streams were open`)));
      try {
        await Promise.race([opened, late, gone]);
      } catch (error) {
        child.kill('SIGKILL');
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
    async stop(): Promise<SubscriberFigures> {
      child.kill('SIGTERM');
      await Promise.all([child.exited, reading]);
      if (!report) throw new Error(`the subscribers exited with ${child.exitCode} and no figures`);
      return {
        count,
        opened: report.opened,
        followedLive: report.followedLive,
        refused: report.refused,
        errors: report.errors,
        messages: report.messages,
        openAtOnce: { min: Math.min(...report.openSamples), median: percentiles(report.openSamples).p50, max: Math.max(...report.openSamples) },
        customersAtOnce: { median: percentiles(report.customerSamples).p50, max: Math.max(...report.customerSamples) },
        commitToStreamMs: percentiles(report.latenciesMs),
      };
    },
  };
}

/** Reads the API's order_event_delay_seconds (cumulative buckets) from its /metrics. */
export async function writtenDelays(baseUrl: string): Promise<WrittenDelays> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const buckets = [...text.matchAll(/^order_event_delay_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\d+)/gm)].map(([, le, n]) => ({ le: Number(le), count: Number(n) }));
  const count = buckets.at(-1)?.count ?? 0;
  const goalSeconds = GOALS.commitToStreamP99Ms / 1000;
  const withinGoal = buckets.find((bucket) => bucket.le === goalSeconds)?.count;
  if (withinGoal === undefined) throw new Error(`order_event_delay_seconds has no bucket at ${goalSeconds} s`);
  const rank = 0.99 * count;
  const at = buckets.findIndex((bucket) => bucket.count >= rank);
  let p99Ms = Number.NaN;
  if (count > 0 && at >= 0) {
    const upper = buckets[at]!;
    const lower = at > 0 ? buckets[at - 1]! : { le: 0, count: 0 };
    p99Ms = Number.isFinite(upper.le) ? (lower.le + ((upper.le - lower.le) * (rank - lower.count)) / (upper.count - lower.count)) * 1000 : lower.le * 1000;
  }
  return { count, withinGoal, p99Ms };
}

const fmt = (n: number | undefined, digits = 1) => (n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits));
const verdict = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'met' : 'MISSED');

const describe = (f: SubscriberFigures) =>
  `${f.count} streams held open and a customer following each order (open at once: min ${f.openAtOnce.min}, median ${f.openAtOnce.median}, max ${f.openAtOnce.max}; ` +
  `customers median ${f.customersAtOnce.median}, max ${f.customersAtOnce.max}); ${f.opened} opened, ${f.followedLive} by customers; ${Object.entries(f.refused).map(([status, times]) => `${times}× ${status}`).join(', ') || 'none refused'}; ${f.errors} errors; ${f.messages} messages; ` +
  `commit to stream p50 / p95 / p99 / max ${fmt(f.commitToStreamMs.p50)} / ${fmt(f.commitToStreamMs.p95)} / ${fmt(f.commitToStreamMs.p99)} / ${fmt(f.commitToStreamMs.max)} ms over ${f.commitToStreamMs.count} changes` +
  (f.written
    ? `; as the API tells it (order_event_delay_seconds, commit to written): p99 ${fmt(f.written.p99Ms)} ms, ${fmt((100 * f.written.withinGoal) / f.written.count)} % within ${GOALS.commitToStreamP99Ms} ms, over ${f.written.count} changes`
    : '');

/** The goal lines of a `--subscribers` comparison. */
export function subscriberGoalLines(run: SubscribersRun | undefined): string[] {
  if (!run) return [];
  const { saturated, open, kept } = run;
  const ratio = saturated.without > 0 ? saturated.with / saturated.without : undefined;
  const keptRatio = kept && kept.without > 0 ? kept.with / kept.without : undefined;
  const judged = (value: number | undefined, judge: boolean) => `${fmt(value, 2)} (goal >= ${GOALS.throughputRatio}: ${judge ? verdict(value === undefined ? undefined : value >= GOALS.throughputRatio) : 'see the kept rates below'})`;
  const p99 = (open ?? saturated).figures.commitToStreamMs.p99;
  return [
    `end to end, saturated, with ${describe(saturated.figures)}`,
    `  ${fmt(saturated.with, 0)} notified/s against ${fmt(saturated.without, 0)} without = ${judged(ratio, !kept)}`,
    ...(kept ? [`  highest rate kept up with: ${fmt(kept.with, 0)} orders/s with the streams against ${fmt(kept.without, 0)} without = ${judged(keptRatio, true)}`] : []),
    ...(open ? [`open loop at ${open.rate}/s with ${describe(open.figures)}`] : []),
    `  commit to stream p99 ${fmt(p99)} ms${open ? ' in the open loop' : ' (saturated)'} (goal <= ${GOALS.commitToStreamP99Ms} ms: ${verdict(Number.isNaN(p99) ? undefined : p99 <= GOALS.commitToStreamP99Ms)}); ` +
      `api peak RSS with the streams ${fmt(run.apiRssMb, 0)} MB (goal <= ${GOALS.apiRssMb} MB: ${verdict(run.apiRssMb === undefined ? undefined : run.apiRssMb <= GOALS.apiRssMb)})`,
  ];
}
