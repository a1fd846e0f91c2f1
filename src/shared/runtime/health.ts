import type { Logger } from './log.ts';
import { withTimeout } from './with-timeout.ts';

/** Resolves when a dependency answers, rejects when it does not. */
export type HealthCheck = () => Promise<unknown>;

export interface HealthReport {
  status: 'ok' | 'unavailable';
  checks: Record<string, 'ok' | 'error'>;
}

export const HEALTH_CHECK_TIMEOUT_MS = 2000;

/** Runs every check in parallel, each bounded by a timeout; one failing check makes the whole report unavailable. */
export async function runHealthChecks(checks: Record<string, HealthCheck>, log: Logger): Promise<HealthReport> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withTimeout(check(), HEALTH_CHECK_TIMEOUT_MS, `${name} health check`);
        return [name, 'ok'] as const;
      } catch (err) {
        log.warn({ err, check: name }, 'health check failed');
        return [name, 'error'] as const;
      }
    }),
  );
  return {
    status: results.every(([, state]) => state === 'ok') ? 'ok' : 'unavailable',
    checks: Object.fromEntries(results),
  };
}
