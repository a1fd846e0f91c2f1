/** The consumer runner as a contender, per entry (`handle`) or in batches (`handleBatch`); everything else the same. */
import Redis from 'ioredis';
import { Events } from '../../src/shared/pipeline/events.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createRedis, waitUntilReady } from '../../src/shared/runtime/redis.ts';
import { createConsumer } from '../../src/shared/streams/consumer.ts';
import { contenderArgs, fillStream, report, waitUntilAcknowledged } from './common.ts';

export async function runRunnerContender({ name, key, batch }: { name: string; key: string; batch: boolean }): Promise<void> {
  const { messages, concurrency, prefix, redisUrl } = contenderArgs();
  const log = createLogger({ service: 'bench', level: 'warn' });
  const setup = new Redis(redisUrl);
  const stream = `${prefix}${key}`;
  await setup.del(stream, `${stream}.dlq`);
  await setup.xgroup('CREATE', stream, 'bench', '0', 'MKSTREAM');
  const enqueueSeconds = await fillStream(setup, stream, messages);

  const redis = createRedis(redisUrl, { connectionName: `bench-${key}`, log });
  const blockingRedis = createRedis(redisUrl, { connectionName: `bench-${key}-read`, log });
  await Promise.all([waitUntilReady(redis, 5000), waitUntilReady(blockingRedis, 5000)]);

  let processed = 0;
  let allDone!: () => void;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const count = (n: number) => {
    processed += n;
    if (processed === messages) allDone();
  };
  const consumer = createConsumer({
    redis,
    blockingRedis,
    stream,
    group: 'bench',
    consumerName: key,
    deadLetterStream: `${stream}.dlq`,
    deadLetterMaxLen: 1000,
    decode: Events.orderPlaced.fromFields,
    ...(batch ? { handleBatch: async (entries: unknown[]) => count(entries.length) } : { handle: async () => count(1) }),
    log,
    concurrency,
    batchSize: 200,
    blockMs: 1000,
    claimIdleMs: 30_000,
    maxDeliveries: 5,
  });

  const started = performance.now();
  void consumer.start();
  await done;
  // Counted once every acknowledgement is applied, like the bare loop's last XACK.
  await waitUntilAcknowledged(setup, stream, 'bench');
  const processSeconds = (performance.now() - started) / 1000;
  const stopStarted = performance.now();
  await consumer.stop(10_000);
  const stopSeconds = (performance.now() - stopStarted) / 1000;
  await setup.del(stream, `${stream}.dlq`);
  setup.disconnect();
  redis.disconnect();
  blockingRedis.disconnect();
  report({ name, messages, enqueueSeconds, processSeconds, stopSeconds });
}
