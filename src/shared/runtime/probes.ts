import { runHealthChecks, type HealthCheck, type HealthReport } from './health.ts';
import type { Logger } from './log.ts';

/**
 * Kubernetes-style probes, served by the API and by each worker's health server beside `/health`:
 * liveness says the process and its event loop answer (restart it if not), readiness says its
 * dependencies answer (route work to it or not). Both turn 503 once the process is told to stop.
 */

/** Set once the process has been told to stop (SIGTERM, SIGINT); main.ts sets it as its first shutdown step. */
export interface ShutdownFlag {
  readonly requested: boolean;
}

export function createShutdownFlag(): ShutdownFlag & { request(): void } {
  let requested = false;
  return {
    get requested() {
      return requested;
    },
    request() {
      requested = true;
    },
  };
}

export const LIVE_STATUSES = ['ok', 'shutting_down'] as const;
export const READY_STATUSES = ['ok', 'unavailable', 'shutting_down'] as const;

export interface LiveReport {
  status: (typeof LIVE_STATUSES)[number];
}

export interface ReadyReport {
  status: (typeof READY_STATUSES)[number];
  checks: HealthReport['checks'];
}

/** No dependency is asked: a liveness probe that failed with PostgreSQL would restart every process during an outage they ride out by themselves. */
export function liveReport(shutdown?: ShutdownFlag): LiveReport {
  return { status: shutdown?.requested ? 'shutting_down' : 'ok' };
}

/** Today's `/health` checks; a stopping process skips them, since its connections are closing anyway. */
export async function readyReport(checks: Record<string, HealthCheck>, log: Logger, shutdown?: ShutdownFlag): Promise<ReadyReport> {
  if (shutdown?.requested) return { status: 'shutting_down', checks: {} };
  return runHealthChecks(checks, log);
}

/** 200 for `ok`, 503 for anything else. */
export function probeStatus(report: { status: string }): 200 | 503 {
  return report.status === 'ok' ? 200 : 503;
}
