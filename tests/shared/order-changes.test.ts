import { afterAll, afterEach, describe, expect, it } from 'bun:test';
import { createOrderChangeFeed, createOrderChanges, orderChangesKey } from '../../src/shared/pipeline/order-changes.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createRedis, waitUntilReady } from '../../src/shared/runtime/redis.ts';
import { closeRedis } from '../../src/shared/runtime/shutdown.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';
import { captureLines } from '../helpers/log-capture.ts';
import { connectRedis, deleteKeys, startPrivateRedis, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(30_000);

const admin = connectRedis();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => admin.disconnect());

/** A fresh prefix, its keys deleted after the test; connections to `url` closed after it too. */
function setUp(url = TEST_REDIS_URL) {
  const prefix = uniquePrefix('order_changes');
  const logs = captureLines();
  const log = createLogger({ service: 'test', level: 'debug', destination: logs.stream });
  const connect = (name: string) => {
    const redis = createRedis(url, { connectionName: name, log, commandTimeoutMs: 2000, blockMs: 100 });
    cleanups.push(() => closeRedis(redis));
    return redis;
  };
  if (url === TEST_REDIS_URL) cleanups.push(() => deleteKeys(admin, prefix));
  return { prefix, log, logs, connect };
}

/** A feed reading the prefix's orders.changed once connected (as the API starts it), keeping what it is told. */
async function startFeed({ prefix, log, connect }: ReturnType<typeof setUp>) {
  const changed: string[] = [];
  let resumed = 0;
  const redis = connect('feed');
  const feed = createOrderChangeFeed({ redis, prefix, blockMs: 100, log, onChanged: (ids) => changed.push(...ids), onResumed: () => resumed++ });
  expect(await waitUntilReady(redis, 5000)).toBe(true);
  feed.start();
  cleanups.push(() => feed.stop());
  return { changed, resumed: () => resumed };
}

/** Announces `probe` until the feed has it: from then on the feed is reading. */
async function untilReading(changes: ReturnType<typeof createOrderChanges>, changed: string[], probe = 'probe') {
  await waitFor(() => {
    if (changed.includes(probe)) return true;
    changes.announce([probe]);
    return false;
  }, { what: 'the feed to read', intervalMs: 50 });
}

describe('announcing order changes', () => {
  it('writes one entry { orderId } per order to orders.changed under the prefix', async () => {
    const setup = setUp();
    const changes = createOrderChanges({ redis: setup.connect('writer'), prefix: setup.prefix, log: setup.log });
    changes.announce(['order-1', 'order-2', 'order-1']);
    const key = orderChangesKey(setup.prefix);
    expect(key).toBe(`${setup.prefix}orders.changed`);
    const entries = await waitFor(async () => {
      const found = (await admin.xrange(key, '-', '+')) as [string, string[]][];
      return found.length === 2 && found;
    }, { what: 'two entries' });
    expect(entries.map(([, flat]) => fieldsToRecord(flat))).toEqual([{ orderId: 'order-1' }, { orderId: 'order-2' }]);
  });

  it('fails nothing while Redis is away, and announces what it could not once Redis is back', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.destroy());
    const setup = setUp(redis.url);
    const changes = createOrderChanges({ redis: setup.connect('writer'), prefix: setup.prefix, log: setup.log });
    await redis.stop();
    expect(() => changes.announce(['during-outage'])).not.toThrow();
    await waitFor(() => setup.logs.lines.some((line) => line.msg === 'cannot announce order changes; retrying when Redis is back'), { what: 'the failure to be logged' });

    await redis.start();
    const probe = connectRedis(redis.url);
    cleanups.push(async () => probe.disconnect());
    await waitFor(async () => ((await probe.xrange(orderChangesKey(setup.prefix), '-', '+')) as [string, string[]][]).some(([, flat]) => flat.includes('during-outage')), {
      what: 'the announcement held back during the outage',
      timeoutMs: 10_000,
    });
  });
});

describe('the feed of order changes', () => {
  it('hands over every order announced after it started, in order, none skipped between two reads and none twice', async () => {
    const setup = setUp();
    const changes = createOrderChanges({ redis: setup.connect('writer'), prefix: setup.prefix, log: setup.log });
    // Written before the feed started: history, never read.
    changes.announce(['before']);
    const { changed } = await startFeed(setup);
    await untilReading(changes, changed);
    changed.length = 0;

    const sent: string[] = [];
    for (let burst = 0; burst < 10; burst++) {
      const ids = Array.from({ length: 30 }, (_, i) => `order-${burst}-${i}`);
      changes.announce(ids);
      sent.push(...ids);
      // Bursts apart by more than one block, so reads start, end empty and start again between them.
      await waitFor(() => changed.length === sent.length, { what: `burst ${burst}` });
    }
    expect(changed).toEqual(sent);
    expect(changed).not.toContain('before');
  });

  it('says it resumed after Redis restarted, and reads what is announced after that', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.destroy());
    const setup = setUp(redis.url);
    const changes = createOrderChanges({ redis: setup.connect('writer'), prefix: setup.prefix, log: setup.log });
    const feed = await startFeed(setup);
    await untilReading(changes, feed.changed);
    expect(feed.resumed()).toBe(0);

    // Restarted empty: the stream and the feed's position in it are gone.
    await redis.stop();
    await redis.start();
    await waitFor(() => feed.resumed() === 1, { what: 'the feed to resume', timeoutMs: 10_000 });
    await untilReading(changes, feed.changed, 'after-restart');
    expect(setup.logs.lines.filter((line) => line.msg === 'reading the stream again; catching up from the source')).toHaveLength(1);
  });
});
