import { describe, expect, it } from 'bun:test';
import type { Redis } from '../../src/shared/runtime/redis.ts';
import type { ConsumerSettings, MessageMeta } from '../../src/shared/streams/consumer.ts';
import { consumerHarness } from '../helpers/consumer-harness.ts';
import { connectRedis, startPrivateRedis } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

/**
 * A consumer keeps the entries it is working on (src/shared/streams/claim-keeper.ts): another
 * consumer of the group claims only a dead or silent consumer's entries, however slow the handler.
 */
const harness = consumerHarness('claim-keeper');
const { prefix, admin, logs } = harness;
const GROUP = 'workers';

let streamSeq = 0;
const newStream = () => `${prefix}s${++streamSeq}`;

interface Msg {
  n: number;
}

function start(stream: string, consumerName: string, handle: (message: Msg, meta: MessageMeta) => Promise<void>, { url, ...overrides }: Partial<ConsumerSettings<Msg>> & { url?: string }) {
  return harness.start<Msg>(
    {
    stream,
    group: GROUP,
    consumerName,
    deadLetterStream: `${stream}.dlq`,
    deadLetterMaxLen: 1000,
    decode: (fields) => ({ n: Number(fields.n) }),
    handle,
    concurrency: 4,
    batchSize: 10,
    blockMs: 100,
    claimIdleMs: 1000,
    maxDeliveries: 5,
    ...overrides,
    },
    url,
  );
}

const add = async (stream: string, n: number, redis: Redis = admin) => (await redis.xadd(stream, '*', 'n', String(n))) as string;

/** The group's pending entries: [id, consumer, idle ms, deliveries]. */
const pendingRows = async (stream: string) => (await admin.xpending(stream, GROUP, '-', '+', 100)) as [string, string, number, number][];

describe('a consumer whose handler is slower than CLAIM_IDLE_MS', () => {
  it('keeps the entries it is working on: a live replica of the group never claims them, only a dead consumer’s', async () => {
    const stream = newStream();
    await admin.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
    const work = [await add(stream, 1), await add(stream, 2), await add(stream, 3)];
    const handled: { consumer: string; n: number; deliveries: number }[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));

    // Two running and one read ahead: all three held, so it reads nothing more (its room is 0).
    const live = start(
      stream,
      'live',
      async ({ n }, meta) => {
        handled.push({ consumer: 'live', n, deliveries: meta.deliveries });
        await released;
      },
      { concurrency: 2, batchSize: 1 },
    );
    await waitFor(() => handled.length === 2 && live.status().inflight === 3, { what: 'the live consumer to hold all three entries' });

    // A dead consumer's entry, delivered after the live one's were: once the other replica has claimed
    // it, that replica's claim sweeps have looked at the live one's entries when they were at least as
    // idle, i.e. past CLAIM_IDLE_MS without the extension.
    const canary = await add(stream, 0);
    const reply = (await admin.xreadgroup('GROUP', GROUP, 'dead', 'COUNT', 1, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    expect(reply[0]![1].map(([id]) => id)).toEqual([canary]);

    const other = start(stream, 'other', async ({ n }, meta) => void handled.push({ consumer: 'other', n, deliveries: meta.deliveries }), {});
    await waitFor(() => handled.some((h) => h.consumer === 'other' && h.n === 0), { what: 'the other replica to take over the dead consumer’s entry' });

    // The live consumer's entries are still its own, delivered once, however long it has been on them.
    expect(handled.filter((h) => h.consumer === 'other').map((h) => h.n)).toEqual([0]);
    const rows = await pendingRows(stream);
    expect(rows.filter(([id]) => work.includes(id)).map(([id, consumer, , deliveries]) => ({ id, consumer, deliveries }))).toEqual(
      work.map((id) => ({ id, consumer: 'live', deliveries: 1 })),
    );

    release();
    await waitFor(async () => (await pendingRows(stream)).length === 0, { what: 'everything acknowledged' });
    expect(handled.filter((h) => h.consumer === 'live').toSorted((a, b) => a.n - b.n)).toEqual([1, 2, 3].map((n) => ({ consumer: 'live', n, deliveries: 1 })));
    expect(other.status().claimed).toBe(1);
  });

  it('does not run an entry it read ahead once another consumer has claimed it, and says so', async () => {
    const stream = newStream();
    const handled: { n: number; deliveries: number }[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // One running, one read ahead. CLAIM_IDLE_MS long enough that it does not claim the entry back itself meanwhile.
    const slow = start(
      stream,
      'slow',
      async ({ n }, meta) => {
        handled.push({ n, deliveries: meta.deliveries });
        if (n === 1) await released;
      },
      { concurrency: 1, batchSize: 1, claimIdleMs: 3000 },
    );
    const first = await add(stream, 1);
    const second = await add(stream, 2);
    await waitFor(() => handled.length === 1 && slow.status().inflight === 2, { what: 'one entry running and one read ahead' });

    // As if the consumer had been silent past CLAIM_IDLE_MS and another had taken the entry it read ahead.
    await admin.xclaim(stream, GROUP, 'thief', 0, second);
    await waitFor(() => logs.lines.some((l) => l.msg === 'entries this consumer held were claimed by another consumer' && l.consumer === 'slow'), {
      what: 'the consumer to notice at its next extension',
    });
    expect(slow.status().inflight).toBe(1);

    release();
    // The first entry's XACK goes out after the next buffered entry (had there been one) was handed to the handler.
    await waitFor(async () => !(await pendingRows(stream)).some(([id]) => id === first), { what: 'the first entry acknowledged' });
    expect(handled).toEqual([{ n: 1, deliveries: 1 }]);
    expect((await pendingRows(stream)).map(([id, consumer]) => [id, consumer])).toEqual([[second, 'thief']]);
  });

  it('rides out Redis going away while it holds an entry, and carries on when Redis is back', async () => {
    const server = await startPrivateRedis();
    const own = connectRedis(server.url);
    try {
      const stream = newStream();
      const handled: number[] = [];
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const consumer = start(
        stream,
        'outage',
        async ({ n }) => {
          handled.push(n);
          if (n === 1) await released;
        },
        { url: server.url, claimIdleMs: 300 },
      );
      await add(stream, 1, own);
      await waitFor(() => handled.includes(1), { what: 'the entry to be running' });

      await server.stop();
      await waitFor(() => logs.lines.some((l) => l.msg === 'could not extend the claim on held entries; retrying next round' && l.consumer === 'outage'), {
        what: 'the failed extension to be logged',
      });
      await server.start();
      release();
      await waitFor(
        async () => {
          try {
            await own.ping();
            return true;
          } catch {
            return false;
          }
        },
        { what: 'the test connection to reconnect' },
      );
      // Redis came back empty: the consumer recreates its group and takes new entries.
      await add(stream, 2, own);
      await waitFor(() => handled.includes(2), { what: 'an entry after the outage', timeoutMs: 15_000 });
      expect(consumer.status().redisOk).toBe(true);
    } finally {
      own.disconnect();
      await server.destroy();
    }
  });
});
