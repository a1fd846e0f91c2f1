import type { Config } from '../shared/config.ts';
import type { Database } from '../shared/db/client.ts';
import type { Logger } from '../shared/log.ts';

/** Resolves when a dependency answers, rejects when it does not. */
export type HealthCheck = () => Promise<unknown>;

/** Everything the API needs from outside; main.ts builds it, tests build their own. */
export interface AppDeps {
  db: Database;
  log: Logger;
  config: Pick<Config, 'bodyLimitBytes' | 'idempotencyKeyTtlHours' | 'idempotencyWaitMs'>;
  healthChecks: Record<string, HealthCheck>;
}
