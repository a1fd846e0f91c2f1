/**
 * The consumer runner on a Redis Cluster as a worker runs it with STREAM_PARTITIONS (see
 * src/shared/worker/run-worker.ts): one runner per partition, each reading its own partition's stream
 * on a blocking connection of its own, all sharing one command connection, every connection a cluster
 * client from createRedisClient. The messages are split evenly over the partitions; each runner has
 * the given concurrency, as each partition's runner in a worker has CONSUMER_CONCURRENCY.
 */
import { parseArgs } from 'node:util';
import { Events } from '../../src/shared/pipeline/events.ts';
import { streamKey, TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { parseHostPort } from '../../src/shared/runtime/config.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { assertClusterReady, createRedisClient, waitUntilReady, type RedisTarget } from '../../src/shared/runtime/redis.ts';
import { createConsumer, type Consumer } from '../../src/shared/streams/consumer.ts';
import { CONTENDER_OPTIONS, fillStream, report, waitUntilAcknowledged } from './common.ts';

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    ...CONTENDER_OPTIONS,
    'cluster-nodes': { type: 'string' },
    partitions: { type: 'string', default: '1' },
    handler: { type: 'string', default: 'batch' },
  },
});
const messages = Number(values.messages);
const concurrency = Number(values.concurrency);
const partitions = Number(values.partitions);
const batch = values.handler === 'batch';
if (!values['cluster-nodes']) throw new Error('--cluster-nodes host:port,... is required');
const target: RedisTarget = {
  url: 'redis://127.0.0.1:6379/0',
  clusterNodes: values['cluster-nodes'].split(',').map(parseHostPort),
};

const log = createLogger({ service: 'bench', level: 'warn' });
// The workers' defaults: REDIS_COMMAND_TIMEOUT_MS 5000, the blocking connections allowed CONSUMER_BLOCK_MS more.
const commandTimeoutMs = 5000;
const blockMs = 1000;
const redis = createRedisClient(target, { connectionName: 'bench-partitioned', log, commandTimeoutMs });
await assertClusterReady(redis, target);

// Partition keys even for one partition: `{0}` puts the stream and its dead-letter stream in one slot.
const keys = Array.from({ length: partitions }, (_, p) => ({
  stream: streamKey(values.prefix!, TOPOLOGY.OrderPlaced.stream, p),
  deadLetterStream: streamKey(values.prefix!, TOPOLOGY.OrderPlaced.deadLetterStream, p),
  count: Math.floor(messages / partitions) + (p < messages % partitions ? 1 : 0),
}));
await Promise.all(keys.map(({ stream, deadLetterStream }) => redis.del(stream, deadLetterStream)));
await Promise.all(keys.map(({ stream }) => redis.xgroup('CREATE', stream, 'bench', '0', 'MKSTREAM')));
const fillStarted = performance.now();
await Promise.all(keys.map(({ stream, count }) => fillStream(redis, stream, count)));
const enqueueSeconds = (performance.now() - fillStarted) / 1000;

const blocking = keys.map((_, p) => createRedisClient(target, { connectionName: `bench-partitioned:read${p}`, log, commandTimeoutMs, blockMs }));
await Promise.all(blocking.map((connection) => waitUntilReady(connection, 10_000)));

let processed = 0;
let allDone!: () => void;
const done = new Promise<void>((resolve) => (allDone = resolve));
const settings = {
  redis,
  group: 'bench',
  consumerName: 'runner',
  deadLetterMaxLen: 1000,
  decode: Events.orderPlaced.fromFields,
  log,
  concurrency,
  batchSize: 200,
  blockMs,
  claimIdleMs: 30_000,
  maxDeliveries: 5,
};
const consumers: Consumer[] = keys.map(({ stream, deadLetterStream }, p) =>
  batch
    ? createConsumer({
        ...settings,
        blockingRedis: blocking[p]!,
        stream,
        deadLetterStream,
        handleBatch: async (items) => {
          processed += items.length;
          if (processed === messages) allDone();
        },
      })
    : createConsumer({
        ...settings,
        blockingRedis: blocking[p]!,
        stream,
        deadLetterStream,
        handle: async () => {
          if (++processed === messages) allDone();
        },
      }),
);

const started = performance.now();
for (const consumer of consumers) void consumer.start();
await done;
// Counted once every acknowledgement is applied on every partition, like the bare loop's last XACK.
await Promise.all(keys.map(({ stream }) => waitUntilAcknowledged(redis, stream, 'bench')));
const processSeconds = (performance.now() - started) / 1000;
const stopStarted = performance.now();
await Promise.all(consumers.map((consumer) => consumer.stop(10_000)));
const stopSeconds = (performance.now() - stopStarted) / 1000;
await Promise.all(keys.map(({ stream, deadLetterStream }) => redis.del(stream, deadLetterStream)));
for (const connection of [redis, ...blocking]) connection.disconnect();
report({ name: `runner (${batch ? 'batch' : 'per-entry'}), ${partitions} partition(s)`, messages, enqueueSeconds, processSeconds, stopSeconds });
