import { Presets, SingleBar } from 'cli-progress';
import { orderBody, type LoadOutcome } from './load-outcome.ts';
import { percentiles } from './stats.ts';

export type Pace = { kind: 'closed'; connections: number } | { kind: 'open'; rate: number };

/**
 * The driver in this process, with fetch: a closed loop (`connections` clients, each sending its next
 * order when the last is answered) or an open loop (`rate` orders a second on schedule, whether or
 * not earlier ones have answered). wrk has no open loop, so the open-loop runs always use this one;
 * at a few hundred orders a second it costs this process a few percent of a core (reported).
 */
export async function builtinLoad(baseUrl: string, label: string, pace: Pace, seconds: number): Promise<LoadOutcome> {
  const body = await orderBody();
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  let created = 0;
  const bar = new SingleBar(
    { format: `${label.padEnd(22)} [{bar}] {percentage}% | {sent} sent | {rps} created/s | {errors} errors`, noTTYOutput: true, notTTYSchedule: 5000, hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(100, 0, { sent: 0, rps: 0, errors: 0 });
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const endsAt = started + seconds * 1000;

  async function one() {
    sent++;
    const t0 = performance.now();
    let status = 'network error';
    try {
      const res = await fetch(`${baseUrl}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      status = String(res.status);
      await res.arrayBuffer();
    } catch {
      // Counted under "network error" below.
    }
    latencies.push(performance.now() - t0);
    if (status === '201') created++;
    else statuses[status] = (statuses[status] ?? 0) + 1;
  }

  const ticker = setInterval(() => {
    const elapsed = performance.now() - started;
    bar.update(Math.min(100, Math.floor((elapsed / (seconds * 1000)) * 100)), { sent, rps: Math.round(created / (elapsed / 1000)), errors: sent - created });
  }, 500);
  if (pace.kind === 'open') {
    const inFlight = new Set<Promise<void>>();
    for (;;) {
      const due = started + (sent * 1000) / pace.rate;
      if (due >= endsAt) break;
      const wait = due - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      const request = one();
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
    }
    await Promise.all(inFlight);
  } else {
    await Promise.all(
      Array.from({ length: pace.connections }, async () => {
        while (performance.now() < endsAt) await one();
      }),
    );
  }
  clearInterval(ticker);
  const elapsed = (performance.now() - started) / 1000;
  bar.update(100, { sent, rps: Math.round(created / elapsed), errors: sent - created });
  bar.stop();
  const cpu = process.cpuUsage(cpuBefore);
  const { p50, p95, p99, max } = percentiles(latencies);
  return {
    driver: 'built-in',
    mode: pace.kind === 'open' ? `open loop, ${pace.rate} orders/s (built-in)` : `closed loop, ${pace.connections} connections (built-in)`,
    requests: latencies.length,
    created,
    // An open loop's rate is over the schedule it kept, not over the wait for its last answers.
    seconds: pace.kind === 'open' ? seconds : elapsed,
    latencyMs: { p50, p95, p99, max },
    errors: statuses,
    driverCpu: (cpu.user + cpu.system) / 1e6 / elapsed,
  };
}
