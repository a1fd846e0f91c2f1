import { sql } from 'drizzle-orm';
import { createApp } from '../../src/api/app.ts';
import type { AppDeps } from '../../src/api/deps.ts';
import { loadConfig } from '../../src/shared/runtime/config.ts';
import type { Database } from '../../src/shared/db/client.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createApiMetrics } from '../../src/api/metrics.ts';
import { createMetricsRegistry } from '../../src/shared/runtime/metrics.ts';
import { createOutboxWriter } from '../../src/shared/pipeline/outbox-writer.ts';
import { captureLines } from './log-capture.ts';

export const BASE = 'http://localhost';

/** An app on a test database, with its log lines captured for assertions. */
export function createTestApp(db: Database, overrides: Partial<AppDeps> & { env?: Record<string, string> } = {}) {
  const logs = captureLines();
  const config = loadConfig(overrides.env ?? {});
  const deps: AppDeps = {
    db,
    log: createLogger({ service: 'api', level: 'debug', destination: logs.stream }),
    config: config.api,
    healthChecks: { postgres: () => db.execute(sql`select 1`) },
    metrics: createApiMetrics(createMetricsRegistry('api')),
    // Route tests check what is written to the outbox; publishing it is the pipeline tests' business.
    outbox: createOutboxWriter({ tracing: overrides.tracing, relay: { kick() {} } }),
    ...overrides,
  };
  return { app: createApp(deps), logs, deps };
}

export function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  return new Request(BASE + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function get(path: string, headers: Record<string, string> = {}) {
  return new Request(BASE + path, { headers });
}

/** Response JSON for assertions; tests check its shape themselves. */
export async function readJson(res: Response): Promise<any> {
  return res.json();
}
