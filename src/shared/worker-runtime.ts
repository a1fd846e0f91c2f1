import { sql } from 'drizzle-orm';
import type { Config } from './config.ts';
import { createDb, type Database } from './db/client.ts';
import { isDatabaseUnreachable } from './db/connection-error.ts';
import { startHealthServer } from './health-server.ts';
import { createLogger, type Logger } from './log.ts';
import { surviveStrayConnectionErrors } from './process-guards.ts';
import { createRedis, waitUntilReady, type Redis } from './redis.ts';
import { closeRedis, exitGracefullyOnSignal } from './shutdown.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createConsumer, type ConsumerObserver, type MessageMeta } from './streams/consumer.ts';
import { streamKey } from './events.ts';

export interface WorkerParts<Message> {
  handle: (message: Message, meta: MessageMeta) => Promise<void>;
  /** Beyond PostgreSQL being unreachable, which is always transient. */
  isTransient?: (error: unknown) => boolean;
  gate?: () => number;
  healthDetails?: () => Record<string, unknown>;
  /** Run on shutdown after the consumer stopped, before connections close. */
  stop?: () => Promise<unknown>;
}

export interface WorkerSpec<Message> {
  service: string;
  config: Config;
  defaultHealthPort: number;
  stream: string;
  group: string;
  deadLetterStream: string;
  decode: (fields: Record<string, string>) => Message;
  logContext: (message: Message) => Record<string, unknown>;
  /** Builds the handler from the process's connections. */
  setup: (context: { db: Database; redis: Redis; log: Logger; metrics: Metrics }) => WorkerParts<Message>;
}

export interface WorkerConnections {
  db: Database;
  redis: Redis;
  blockingRedis: Redis;
  log: Logger;
  metrics: Metrics;
}

/** The consumer's events as metrics, labelled with the worker's stream and group. */
function consumerObserver(metrics: Metrics, labels: { stream: string; group: string }): ConsumerObserver {
  return {
    processed: (seconds) => {
      metrics.processed.inc(labels);
      metrics.processing.observe(labels, seconds);
    },
    failed: () => metrics.failed.inc(labels),
    deadLettered: () => metrics.deadLettered.inc(labels),
    claimed: (count) => metrics.claimed.inc(labels, count),
  };
}

/** The consumer and handler of a worker on the given connections, not started; tests run it in-process. */
export function createWorker<Message>(spec: WorkerSpec<Message>, { db, redis, blockingRedis, log, metrics }: WorkerConnections) {
  const { config } = spec;
  const parts = spec.setup({ db, redis, log, metrics });
  const consumer = createConsumer<Message>({
    redis,
    blockingRedis,
    stream: streamKey(config.streamPrefix, spec.stream),
    group: spec.group,
    consumer: config.consumerName,
    deadLetterStream: streamKey(config.streamPrefix, spec.deadLetterStream),
    deadLetterMaxLen: config.deadLetterMaxLen,
    decode: spec.decode,
    handle: parts.handle,
    log,
    concurrency: config.consumerConcurrency,
    batchSize: config.consumerBatchSize,
    blockMs: config.consumerBlockMs,
    claimIdleMs: config.claimIdleMs,
    maxDeliveries: config.maxDeliveries,
    maxAgeMs: config.streamMaxAgeMs,
    isTransient: (error) => isDatabaseUnreachable(error) || (parts.isTransient?.(error) ?? false),
    probe: () => db.execute(sql`select 1`),
    gate: parts.gate,
    logContext: spec.logContext,
    observer: consumerObserver(metrics, { stream: spec.stream, group: spec.group }),
  });
  return { consumer, parts };
}

/**
 * Everything a worker process does besides its handler, shared by payment and notify:
 * connections, the consumer, the health server, and an orderly shutdown on SIGTERM/SIGINT.
 */
export function runWorker<Message>(spec: WorkerSpec<Message>) {
  const { config } = spec;
  const log = createLogger({ service: spec.service, level: config.logLevel });
  surviveStrayConnectionErrors(log);
  const { db, close } = createDb(config.databaseUrl, { max: config.databasePoolSize, applicationName: spec.service });
  const redis = createRedis(config.redisUrl, { connectionName: `${spec.service}:${config.consumerName}`, log });
  const blockingRedis = createRedis(config.redisUrl, { connectionName: `${spec.service}:${config.consumerName}:read`, log });
  const metrics = createMetrics(spec.service, { redis, db, prefix: config.streamPrefix });
  const { consumer, parts } = createWorker(spec, { db, redis, blockingRedis, log, metrics });

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
  log.info({ health_port: health.port, consumer: config.consumerName, stream: spec.stream, group: spec.group }, `${spec.service} worker started`);

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
