import type { Config } from '../shared/runtime/config.ts';
import type { Database } from '../shared/db/client.ts';
import type { HealthCheck } from '../shared/runtime/health.ts';
import type { Logger } from '../shared/runtime/log.ts';
import type { ShutdownFlag } from '../shared/runtime/probes.ts';
import type { ApiMetrics } from './metrics.ts';
import type { Redis } from '../shared/runtime/redis.ts';
import type { Tracing } from '../shared/tracing/tracing.ts';
import type { OutboxWriter } from '../shared/pipeline/outbox-writer.ts';
import type { OrderChanges } from '../shared/pipeline/order-changes.ts';
import type { OrderFollowers } from './services/order-followers.ts';

/** Everything the API needs from outside; main.ts builds it, tests build their own. */
export interface AppDeps {
  db: Database;
  log: Logger;
  config: Config['api'];
  healthChecks: Record<string, HealthCheck>;
  /** What /health/ready asks (default: healthChecks); main.ts leaves Redis out, since orders are taken while it is away. */
  readinessChecks?: Record<string, HealthCheck>;
  /** Where the operations page and admin endpoints read streams and dead letters; without it they answer 503. */
  ops?: { redis: Redis; prefix: string; partitions?: number };
  /** Prometheus metrics of this process (served at GET /metrics). */
  metrics: ApiMetrics;
  /** Stages each order's `orders.placed` event, and is told after the commit so it is published at once (see createOutboxWriter). */
  outbox: OutboxWriter;
  /** Once requested, /health/live and /health/ready answer 503; without it the process is never stopping. */
  shutdown?: ShutdownFlag;
  /** OpenTelemetry spans for requests and the order write; without it (or with it off) none. */
  tracing?: Tracing;
  /** The open GET /orders/{id}/events streams of this process; without it that route answers 503. */
  orderFollowers?: OrderFollowers;
  /** Says which orders a request changed (the provider webhook), for every replica's streams; without it nothing is said. */
  orderChanges?: OrderChanges;
}
