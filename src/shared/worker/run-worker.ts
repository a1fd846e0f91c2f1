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
import { partitionKeys, ROUTES, streamKey, TOPOLOGY, type Route, type RouteName } from '../pipeline/topology.ts';
import { combineConsumers } from './partitioned-consumer.ts';
import { consumerSpans } from '../tracing/consumer-spans.ts';
import { APP_EVENT_ID, APP_ORDER_ID } from '../tracing/semconv.ts';
import { DISABLED_TRACING, type Tracing } from '../tracing/tracing.ts';

/**
 * A worker, as its folder's worker.ts defines it: what it consumes, and how its handler is built from
 * the process's connections. runWorker runs one or more as a process (notify runs one per channel, each
 * its own consumer group); createWorker builds one for a test, createWorkers several.
 */
export interface WorkerDefinition<Message extends EventBase> {
  service: string;
  config: Config;
  defaultHealthPort: number;
  /** The event it consumes: its stream, group and dead-letter stream come from the topology table. */
  consumes: EventDefinition<Message>;
  /** Which of the event's routes it reads; needed only when the event has several (payment.completed: one per channel). */
  route?: RouteName;
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
  /** The connection each partition's runner blocks on in XREADGROUP: one of its own per partition (and group). */
  blockingRedis: Redis | ((partition: number | null, group: string) => Redis);
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

/** The route a worker reads: the one it names, or its event's only one. */
export function routeOf(spec: Pick<WorkerDefinition<EventBase>, 'consumes' | 'route'>): Route {
  if (spec.route) return { name: spec.route, ...TOPOLOGY[spec.route] };
  const routes = ROUTES.filter((route) => route.eventType === spec.consumes.type);
  if (routes.length !== 1) throw new Error(`${spec.consumes.type} is read by ${routes.map((r) => r.name).join(', ')}: the worker must name its route`);
  return routes[0]!;
}

/**
 * The consumers and handler of a worker on the given connections, not started; tests run it
 * in-process. One consumer runner per partition the worker reads (CONSUMER_PARTITIONS), each on its
 * partition's stream and dead-letter stream, all sharing the handler.
 */
export function createWorker<Message extends EventBase>(spec: WorkerDefinition<Message>, connections: WorkerConnections) {
  const { consumer, parts, routes } = createWorkers([spec], connections);
  return { consumer, parts: parts[0]!, route: routes[0]! };
}

/** Several workers on one process's connections (see runWorker): their consumers as one, each worker's parts. */
export function createWorkers<Messages extends EventBase[]>(
  specs: { [K in keyof Messages]: WorkerDefinition<Messages[K]> },
  { db, redis, blockingRedis, log, metrics, tracing = DISABLED_TRACING }: WorkerConnections,
) {
  // Registered once per process: the metrics of every consumer are one family, labelled by stream and group.
  const observe = consumerMetrics(metrics);
  const blocking = typeof blockingRedis === 'function' ? blockingRedis : () => blockingRedis;
  const built = (specs as WorkerDefinition<EventBase>[]).map((spec) => {
    const { config } = spec;
    const route = routeOf(spec);
    const parts = spec.setup({ db, redis, log, metrics, tracing });
    const consumers = partitionKeys(config.streamPrefix, route.stream, config.partitions.count, config.partitions.consumed).map(({ partition, key }) => ({
      partition,
      group: route.group,
      consumer: createConsumer<EventBase>({
        ...config.consumer,
        redis,
        blockingRedis: blocking(partition, route.group),
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
    return { route, parts, consumers };
  });
  return {
    consumer: combineConsumers(built.flatMap(({ consumers }) => consumers)),
    parts: built.map(({ parts }) => parts),
    routes: built.map(({ route }) => route),
  };
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
 * Everything a worker process does besides its handlers, shared by payment and notify:
 * connections, the consumers (one per worker given, each its own group), the health server, and an
 * orderly shutdown on SIGTERM/SIGINT. The first worker's settings run the process.
 */
export function runWorker<Messages extends EventBase[]>(...specs: { [K in keyof Messages]: WorkerDefinition<Messages[K]> }) {
  const all = specs as WorkerDefinition<EventBase>[];
  const first = all[0];
  if (!first) throw new Error('runWorker needs at least one worker');
  if (all.some((spec) => spec.service !== first.service)) throw new Error(`one process runs one service, got ${all.map((spec) => spec.service).join(', ')}`);
  const { config } = first;
  const { consumerName } = config.consumer;
  const { log, tracing } = startLogAndTracing({ service: first.service, level: config.logLevel, tracing: config.tracing });
  surviveStrayConnectionErrors(log);
  const { db, close } = createDb(config.database.url, workerDbOptions(config, first.service));
  const commandTimeoutMs = config.redisCommandTimeoutMs;
  const target = { url: config.redisUrl, clusterNodes: config.redisClusterNodes };
  const redis = createRedisClient(target, { connectionName: `${first.service}:${consumerName}`, log, commandTimeoutMs });
  const blockingConnections: Redis[] = [];
  const blockingRedis = (partition: number | null, group: string) => {
    const read = all.length > 1 ? `read:${group}${partition ?? ''}` : `read${partition ?? ''}`;
    const connection = createRedisClient(target, { connectionName: `${first.service}:${consumerName}:${read}`, log, commandTimeoutMs, blockMs: config.consumer.blockMs });
    blockingConnections.push(connection);
    return connection;
  };
  const metrics = createMetricsRegistry(first.service);
  registerPipelineGauges(metrics, { redis, db, prefix: config.streamPrefix, partitions: config.partitions.count });
  const { consumer, parts, routes } = createWorkers(all, { db, redis, blockingRedis, log, metrics, tracing });
  const shutdown = createShutdownFlag();

  const health = startHealthServer({
    port: config.healthPort ?? first.defaultHealthPort,
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
      ...(config.partitions.count > 1 || all.length > 1 ? { partitions: consumer.partitions() } : {}),
      ...Object.assign({}, ...parts.map((part) => part.healthDetails?.() ?? {})),
    }),
    metrics,
    shutdown,
  });
  log.info(
    { health_port: health.port, consumer: consumerName, stream: routes[0]!.stream, group: routes.map((route) => route.group).join(',') },
    `${first.service} worker started`,
  );

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
    () => Promise.all(parts.map((part) => part.stop?.())),
    () => health.stop(),
    () => Promise.all([redis, ...blockingConnections].map(closeRedis)),
    () => close(),
    // Last, so the spans of the entries finished while draining go out too.
    () => tracing.shutdown(),
  ]);
  return { consumer, health, log };
}
