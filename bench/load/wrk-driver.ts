import { ORDER_SCRIPT, type LoadOutcome } from './load-outcome.ts';

const PACED_SCRIPT = new URL('../wrk-order-paced.lua', import.meta.url).pathname;

interface WrkSummary {
  requests: number;
  durationUs: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyMs: { p50: number; p90: number; p95: number; p99: number; max: number; mean: number };
}

/** wrk on the PATH (Debian: `apt-get install -y wrk`), or undefined. */
export function findWrk(): string | undefined {
  return Bun.which('wrk') ?? undefined;
}

/**
 * wrk with `connections` keep-alive connections for `seconds`: a closed loop (each connection POSTs
 * its next order as soon as the last is answered), or with `rate`, paced to that many orders a
 * second (bench/wrk-order-paced.lua). wrk is C with its own event loop, so the load costs the two
 * cores far less than a JavaScript driver would; one thread is plenty at these rates. The summary
 * comes from the script's done() hook (bench/wrk-order.lua).
 */
export async function wrkLoad(wrk: string, baseUrl: string, { connections, seconds, rate }: { connections: number; seconds: number; rate?: number }): Promise<LoadOutcome> {
  const script = rate === undefined ? [ORDER_SCRIPT, baseUrl] : [PACED_SCRIPT, baseUrl, '--', String(rate)];
  const proc = Bun.spawn([wrk, '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', ...script], { stdout: 'pipe', stderr: 'pipe' });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  const line = out.split('\n').find((l) => l.startsWith('wrk-summary '));
  if (code !== 0 || !line) throw new Error(`wrk exited with ${code} and no summary line: ${(err || out).trim().split('\n').slice(-3).join(' / ')}`);
  const summary = JSON.parse(line.slice('wrk-summary '.length)) as WrkSummary;
  const { status, ...transport } = summary.errors;
  const errors: Record<string, number> = Object.fromEntries(Object.entries(transport).filter(([, n]) => n > 0));
  // wrk counts every answer above 399 as a "status" error without saying which status.
  if (status > 0) errors['HTTP 4xx/5xx'] = status;
  return {
    driver: 'wrk',
    mode: rate === undefined ? `closed loop, ${connections} connections (wrk)` : `paced, ${rate} orders/s (wrk, ${connections} connections)`,
    requests: summary.requests,
    created: summary.requests - status,
    seconds: summary.durationUs / 1e6,
    latencyMs: { p50: summary.latencyMs.p50, p95: summary.latencyMs.p95, p99: summary.latencyMs.p99, max: summary.latencyMs.max },
    errors,
    driverCpu: Number(proc.resourceUsage()?.cpuTime.total ?? Number.NaN) / 1e6 / (summary.durationUs / 1e6),
  };
}
