import { sql } from 'drizzle-orm';
import { createDb, type Database, type DbOptions } from '../db/client.ts';
import { isDatabaseUnreachable } from '../db/connection-error.ts';
import { registerPipelineGauges } from '../ops/pipeline-gauges.ts';
import type { Config } from '../runtime/config.ts';
import { startHealthServer } from '../runtime/health-server.ts';
import { createShutdownFlag } from '../runtime/probes.ts';
import type { Logger } from '../runtime/log.ts';
import { startLogAndTracing } from '../runtime/log-and-tracing.ts';
import { createMetricsRegistry, type MetricsRegistry } from '../runtime/metrics.ts';
import { surviveStrayConnectionErrors } from '../runtime/process-guards.ts';
import { assertClusterReady, createRedisClient, waitUntilReady, type Redis } from '../runtime/redis.ts';
import { exitWith } from '../runtime/startup.ts';
import { closeRedis, exitGracefullyOnSignal } from '../runtime/shutdown.ts';
import { createConsumer, type BatchHandler } from '../streams/consumer.ts';
import { consumerMetrics } from './consumer-metrics.ts';
import type { EventBase, EventDefinition } from '../pipeline/events.ts';
import { partitionKeys, streamKey, TOPOLOGY } from '../pipeline/topology.ts';
import { combineConsumers } from './partitioned-consumer.ts';
import { consumerSpans } from '../tracing/consumer-spans.ts';
import { APP_EVENT_ID, APP_ORDER_ID } from '../tracing/semconv.ts';
import { DISABLED_TRACING, type Tracing } from '../tracing/tracing.ts';

/**
 * A worker, as its folder's worker.ts defines it: what it consumes, and how its handler is built from
 * the process's connections. runWorker runs it as a process; createWorker builds it for a test.
 */
export interface WorkerDefinition<Message extends EventBase> {
  service: string;
  config: Config;
  defaultHealthPort: number;
  /** The event it consumes: its stream, group and dead-letter stream come from the topology table. */
  consumes: EventDefinition<Message>;
  logContext: (message: Message) => Record<string, unknown>;
  /** Delays before each retry of an entry its handler failed (see the consumer's retrySchedule); unset: left pending for a claim. */
  retrySchedule?: readonly number[];
  /** Builds the handler (a batch at a time: see the consumer's BatchHandler) and its hooks from the process's connections. */
  setup: (connections: Omit<WorkerConnections, 'blockingRedis'> & { tracing: Tracing }) => {
    handleBatch: BatchHandler<Message>['handleBatch'];
    /** Beyond PostgreSQL being unreachable, which is always transient. */
    isTransient?: (error: unknown) => boolean;
    gate?: () => number;
    healthDetails?: () => Record<string, unknown>;
    /** Run on shutdown after the consumer stopped, before connections close. */
    stop?: () => Promise<unknown>;
  };
}

/** The process's connections a worker runs on. */
export interface WorkerConnections {
  db: Database;
  redis: Redis;
  /** The connection each partition's runner blocks on in XREADGROUP: one of its own per partition. */
  blockingRedis: Redis | ((partition: number | null) => Redis);
  log: Logger;
  metrics: MetricsRegistry;
  /** A span per entry processed (see consumerSpans); default: off. */
  tracing?: Tracing;
}

// Every event carries its order and event id: searchable on the span.
const entryAttributes = (fields: Record<string, string>) => ({
  ...(fields.orderId ? { [APP_ORDER_ID]: fields.orderId } : {}),
  ...(fields.eventId ? { [APP_EVENT_ID]: fields.eventId } : {}),
});

/**
 * The consumers and handler of a worker on the given connections, not started; tests run it
 * in-process. One consumer runner per partition the worker reads (CONSUMER_PARTITIONS), each on its
 * partition's stream and dead-letter stream, all sharing the handler.
 */
export function createWorker<Message extends EventBase>(
  spec: WorkerDefinition<Message>,
  { db, redis, blockingRedis, log, metrics, tracing = DISABLED_TRACING }: WorkerConnections,
) {
  const { config } = spec;
  const route = TOPOLOGY[spec.consumes.type];
  const parts = spec.setup({ db, redis, log, metrics, tracing });
  const observe = consumerMetrics(metrics);
  const blocking = typeof blockingRedis === 'function' ? blockingRedis : () => blockingRedis;
  const consumers = partitionKeys(config.streamPrefix, route.stream, config.partitions.count, config.partitions.consumed).map(({ partition, key }) => ({
    partition,
    consumer: createConsumer<Message>({
      ...config.consumer,
      redis,
      blockingRedis: blocking(partition),
      stream: key,
      group: route.group,
      deadLetterStream: streamKey(config.streamPrefix, route.deadLetterStream, partition ?? undefined),
      decode: spec.consumes.fromFields,
      handleBatch: parts.handleBatch,
      retrySchedule: spec.retrySchedule,
      log,
      dependency: {
        isTransient: (error) => isDatabaseUnreachable(error) || (parts.isTransient?.(error) ?? false),
        probe: () => db.execute(sql`select 1`),
      },
      gate: parts.gate,
      logContext: spec.logContext,
      observer: observe({ stream: key.slice(config.streamPrefix.length), group: route.group }),
      // Off: no hook at all, so the runner calls the handler directly.
      tracing: tracing.enabled
        ? consumerSpans(tracing, { stream: route.stream, destination: key, group: route.group, consumer: config.consumer.consumerName, partition, attributes: entryAttributes })
        : undefined,
    }),
  }));
  return { consumer: combineConsumers(consumers), parts, route };
}

/** A worker's pool. Its statements (the handlers', the gateway's, the relay's) look rows up by key or index range only. */
export function workerDbOptions(config: Config, service: string): DbOptions {
  return {
    max: config.database.poolSize,
    connectTimeoutSeconds: config.database.connectTimeoutSeconds,
    statementTimeoutMs: config.database.statementTimeoutMs,
    applicationName: service,
    indexLookupsOnly: true,
  };
}

/**
 * Everything a worker process does besides its handler, shared by payment and notify:
 * connections, the consumer, the health server, and an orderly shutdown on SIGTERM/SIGINT.
 */
export function runWorker<Message extends EventBase>(spec: WorkerDefinition<Message>) {
  const { config } = spec;
  const { consumerName } = config.consumer;
  const { log, tracing } = startLogAndTracing({ service: spec.service, level: config.logLevel, tracing: config.tracing });
  surviveStrayConnectionErrors(log);
  const { db, close } = createDb(config.database.url, workerDbOptions(config, spec.service));
  const commandTimeoutMs = config.redisCommandTimeoutMs;
  const target = { url: config.redisUrl, clusterNodes: config.redisClusterNodes };
  const redis = createRedisClient(target, { connectionName: `${spec.service}:${consumerName}`, log, commandTimeoutMs });
  const blockingConnections: Redis[] = [];
  const blockingRedis = (partition: number | null) => {
    const connection = createRedisClient(target, { connectionName: `${spec.service}:${consumerName}:read${partition ?? ''}`, log, commandTimeoutMs, blockMs: config.consumer.blockMs });
    blockingConnections.push(connection);
    return connection;
  };
  const metrics = createMetricsRegistry(spec.service);
  registerPipelineGauges(metrics, { redis, db, prefix: config.streamPrefix, partitions: config.partitions.count });
  const { consumer, parts, route } = createWorker(spec, { db, redis, blockingRedis, log, metrics, tracing });
  const shutdown = createShutdownFlag();

  const health = startHealthServer({
    port: config.healthPort ?? spec.defaultHealthPort,
    log,
    checks: {
      postgres: () => db.execute(sql`select 1`),
      redis: () => redis.ping(),
      consumer: async () => {
        const status = consumer.status();
        if (!status.redisOk) throw new Error(`consumer ${status.state}: ${status.lastError ?? 'not reading yet'}`);
      },
    },
    details: () => ({
      consumer: consumer.status(),
      ...(config.partitions.count > 1 ? { partitions: consumer.partitions() } : {}),
      ...parts.healthDetails?.(),
    }),
    metrics,
    shutdown,
  });
  log.info({ health_port: health.port, consumer: consumerName, stream: route.stream, group: route.group }, `${spec.service} worker started`);

  // Start reading once connected; if Redis is down at start-up the consumer rides it out like any
  // outage. A cluster that is unreachable or misconfigured at start-up is said at once, naming the setting.
  void assertClusterReady(redis, target)
    .catch((error: Error) => exitWith(error.message))
    .then(() => Promise.all([redis, ...blockingConnections].map((connection) => waitUntilReady(connection, 5000))))
    .then(() => consumer.start());

  exitGracefullyOnSignal(log, config.shutdownTimeoutMs + 2000, [
    // First, so the probes say so while the consumer drains.
    async () => shutdown.request(),
    () => consumer.stop(config.shutdownTimeoutMs),
    async () => parts.stop?.(),
    () => health.stop(),
    () => Promise.all([redis, ...blockingConnections].map(closeRedis)),
    () => close(),
    // Last, so the spans of the entries finished while draining go out too.
    () => tracing.shutdown(),
  ]);
  return { consumer, health, log };
}
