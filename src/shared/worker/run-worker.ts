import { sql } from 'drizzle-orm';
import { createDb, type Database } from '../db/client.ts';
import { isDatabaseUnreachable } from '../db/connection-error.ts';
import { registerPipelineGauges } from '../ops/pipeline-gauges.ts';
import type { Config } from '../runtime/config.ts';
import { startHealthServer } from '../runtime/health-server.ts';
import { createLogger, type Logger } from '../runtime/log.ts';
import { createMetricsRegistry, type MetricsRegistry } from '../runtime/metrics.ts';
import { surviveStrayConnectionErrors } from '../runtime/process-guards.ts';
import { createRedis, waitUntilReady, type Redis } from '../runtime/redis.ts';
import { closeRedis, exitGracefullyOnSignal } from '../runtime/shutdown.ts';
import { createConsumer, type BatchHandler, type EntryHandler } from '../streams/consumer.ts';
import { consumerMetrics } from './consumer-metrics.ts';
import type { EventBase, EventDefinition } from '../pipeline/events.ts';
import { streamKey, TOPOLOGY } from '../pipeline/topology.ts';

/** The worker's handler, one entry at a time or a batch at once (see the consumer's EntryHandler and BatchHandler), and its hooks. */
export type WorkerParts<Message> = (EntryHandler<Message> | BatchHandler<Message>) & WorkerHooks;

export interface WorkerHooks {
  /** Beyond PostgreSQL being unreachable, which is always transient. */
  isTransient?: (error: unknown) => boolean;
  gate?: () => number;
  healthDetails?: () => Record<string, unknown>;
  /** Run on shutdown after the consumer stopped, before connections close. */
  stop?: () => Promise<unknown>;
}

export interface WorkerSpec<Message extends EventBase> {
  service: string;
  config: Config;
  defaultHealthPort: number;
  /** The event it consumes: its stream, group and dead-letter stream come from the topology table. */
  consumes: EventDefinition<Message>;
  logContext: (message: Message) => Record<string, unknown>;
  /** Builds the handler from the process's connections. */
  setup: (context: { db: Database; redis: Redis; log: Logger; metrics: MetricsRegistry }) => WorkerParts<Message>;
}

export interface WorkerConnections {
  db: Database;
  redis: Redis;
  blockingRedis: Redis;
  log: Logger;
  metrics: MetricsRegistry;
}

/** The consumer and handler of a worker on the given connections, not started; tests run it in-process. */
export function createWorker<Message extends EventBase>(spec: WorkerSpec<Message>, { db, redis, blockingRedis, log, metrics }: WorkerConnections) {
  const { config } = spec;
  const route = TOPOLOGY[spec.consumes.type];
  const parts = spec.setup({ db, redis, log, metrics });
  const consumer = createConsumer<Message>({
    ...config.consumer,
    redis,
    blockingRedis,
    stream: streamKey(config.streamPrefix, route.stream),
    group: route.group,
    deadLetterStream: streamKey(config.streamPrefix, route.deadLetterStream),
    decode: spec.consumes.fromFields,
    ...(parts.handleBatch ? { handleBatch: parts.handleBatch } : { handle: parts.handle! }),
    log,
    dependency: {
      isTransient: (error) => isDatabaseUnreachable(error) || (parts.isTransient?.(error) ?? false),
      probe: () => db.execute(sql`select 1`),
    },
    gate: parts.gate,
    logContext: spec.logContext,
    observer: consumerMetrics(metrics, { stream: route.stream, group: route.group }),
  });
  return { consumer, parts, route };
}

/**
 * Everything a worker process does besides its handler, shared by payment and notify:
 * connections, the consumer, the health server, and an orderly shutdown on SIGTERM/SIGINT.
 */
export function runWorker<Message extends EventBase>(spec: WorkerSpec<Message>) {
  const { config } = spec;
  const { consumerName } = config.consumer;
  const log = createLogger({ service: spec.service, level: config.logLevel });
  surviveStrayConnectionErrors(log);
  const { db, close } = createDb(config.database.url, { max: config.database.poolSize, connectTimeoutSeconds: config.database.connectTimeoutSeconds, applicationName: spec.service });
  const commandTimeoutMs = config.redisCommandTimeoutMs;
  const redis = createRedis(config.redisUrl, { connectionName: `${spec.service}:${consumerName}`, log, commandTimeoutMs });
  const blockingRedis = createRedis(config.redisUrl, { connectionName: `${spec.service}:${consumerName}:read`, log, commandTimeoutMs, blockMs: config.consumer.blockMs });
  const metrics = createMetricsRegistry(spec.service);
  registerPipelineGauges(metrics, { redis, db, prefix: config.streamPrefix });
  const { consumer, parts, route } = createWorker(spec, { db, redis, blockingRedis, log, metrics });

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
    details: () => ({ consumer: consumer.status(), ...parts.healthDetails?.() }),
    metrics,
  });
  log.info({ health_port: health.port, consumer: consumerName, stream: route.stream, group: route.group }, `${spec.service} worker started`);

  // Start reading once connected; if Redis is down at start-up the consumer rides it out like any outage.
  void Promise.all([waitUntilReady(redis, 5000), waitUntilReady(blockingRedis, 5000)]).then(() => consumer.start());

  exitGracefullyOnSignal(log, config.shutdownTimeoutMs + 2000, [
    () => consumer.stop(config.shutdownTimeoutMs),
    async () => parts.stop?.(),
    () => health.stop(),
    () => Promise.all([closeRedis(redis), closeRedis(blockingRedis)]),
    () => close(),
  ]);
  return { consumer, health, log };
}
