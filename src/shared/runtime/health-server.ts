import type { Server } from 'bun';
import { runHealthChecks, type HealthCheck } from './health.ts';
import type { Logger } from './log.ts';
import type { MetricsRegistry } from './metrics.ts';
import { liveReport, probeStatus, readyReport, type ShutdownFlag } from './probes.ts';

export interface HealthServerOptions {
  port: number;
  log: Logger;
  checks: Record<string, HealthCheck>;
  /** Extra figures for people reading /health (consumer counts, breaker state); never affect the status. */
  details?: () => Record<string, unknown>;
  /** Served at GET /metrics for Prometheus. */
  metrics?: Pick<MetricsRegistry, 'scrape' | 'contentType'>;
  /** Once requested, /health/live and /health/ready answer 503. */
  shutdown?: ShutdownFlag;
}

/**
 * A worker's own small HTTP server: `GET /health` answers 200 or 503 like the API's, `GET /health/live`
 * and `GET /health/ready` are the Kubernetes probes (see probes.ts), `GET /metrics` is for Prometheus.
 */
export function startHealthServer({ port, log, checks, details, metrics, shutdown }: HealthServerOptions): Server<undefined> {
  return Bun.serve({
    port,
    hostname: '0.0.0.0',
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (request.method === 'GET' && pathname === '/health') {
        // The details are read in the same tick the checks start (each check is called before its first
        // await), so the body tells one moment: read after the awaits, a consumer could say `reconnecting`
        // beside a `consumer: ok` check made before its Redis call failed (seen in CI).
        const snapshot = details?.();
        const report = await runHealthChecks(checks, log);
        return Response.json({ ...report, ...snapshot }, { status: report.status === 'ok' ? 200 : 503 });
      }
      if (request.method === 'GET' && pathname === '/health/live') {
        const report = liveReport(shutdown);
        return Response.json(report, { status: probeStatus(report) });
      }
      if (request.method === 'GET' && pathname === '/health/ready') {
        const report = await readyReport(checks, log, shutdown);
        return Response.json(report, { status: probeStatus(report) });
      }
      if (request.method === 'GET' && pathname === '/metrics' && metrics) {
        return new Response(await metrics.scrape(), { headers: { 'content-type': metrics.contentType } });
      }
      return Response.json({ error: { code: 'route_not_found', message: `No route for ${request.method} ${pathname}` } }, { status: 404 });
    },
  });
}
