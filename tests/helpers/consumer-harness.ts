import { afterAll, afterEach } from 'bun:test';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createRedis, type Redis } from '../../src/shared/runtime/redis.ts';
import { createConsumer, type Consumer, type ConsumerOptions } from '../../src/shared/streams/consumer.ts';
import { captureLines } from './log-capture.ts';
import { connectRedis, deleteKeys, TEST_REDIS_URL, uniquePrefix } from './redis.ts';

/**
 * What a test file of the consumer needs on real Redis: its own key prefix, an admin connection, a
 * logger whose lines it can read, and `start(options)`, which runs a consumer on connections of its own
 * (commands and the blocking read). Every consumer started is stopped after each test, and the file's
 * keys are deleted after the last.
 */
export function consumerHarness(label: string) {
  const prefix = uniquePrefix(label);
  const admin = connectRedis();
  const logs = captureLines();
  const log = createLogger({ service: 'test', level: 'debug', destination: logs.stream });
  const running: { consumer: Consumer; connections: Redis[] }[] = [];

  afterEach(async () => {
    for (const { consumer, connections } of running.splice(0)) {
      await consumer.stop(1000);
      for (const connection of connections) connection.disconnect();
    }
  });
  afterAll(async () => {
    await deleteKeys(admin, prefix);
    admin.disconnect();
  });

  /** Starts a consumer; `options` without the connections and the logger, which the harness gives. */
  function start<Message>(options: Omit<ConsumerOptions<Message>, 'redis' | 'blockingRedis' | 'log'>, url = TEST_REDIS_URL): Consumer {
    const redis = createRedis(url, { connectionName: 'test-commands', log });
    const blockingRedis = createRedis(url, { connectionName: 'test-blocking', log });
    const consumer = createConsumer<Message>({ ...options, redis, blockingRedis, log } as ConsumerOptions<Message>);
    running.push({ consumer, connections: [redis, blockingRedis] });
    void consumer.start();
    return consumer;
  }

  return { prefix, admin, logs, log, start };
}
