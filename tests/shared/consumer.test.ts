import { describe, expect, it } from 'bun:test';
import { PoisonMessage } from '../../src/shared/streams/poison-message.ts';
import type { Redis } from '../../src/shared/runtime/redis.ts';
import type { BatchItem, BatchResult, ConsumerSettings, MessageMeta } from '../../src/shared/streams/consumer.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';
import { trimAcknowledged } from '../../src/shared/streams/trim.ts';
import { consumerHarness } from '../helpers/consumer-harness.ts';
import { connectRedis, startPrivateRedis } from '../helpers/redis.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

const harness = consumerHarness('consumer');
const { prefix, admin, logs } = harness;

let streamSeq = 0;
function names() {
  streamSeq++;
  return { stream: `${prefix}s${streamSeq}`, dlq: `${prefix}s${streamSeq}.dlq`, group: 'workers' };
}

interface Msg {
  n: number;
}

/** Messages are `{ n }`; an entry without a numeric `n` is poison. */
function decode(fields: Record<string, string>): Msg {
  const n = Number(fields.n);
  if (!Number.isInteger(n)) throw new PoisonMessage(`field n is not an integer: ${JSON.stringify(fields.n)}`);
  return { n };
}

function start(
  stream: string,
  dlq: string,
  handler: ((message: Msg, meta: MessageMeta) => Promise<void>) | { handleBatch: (batch: BatchItem<Msg>[]) => Promise<BatchResult | void> },
  { url, ...overrides }: Partial<ConsumerSettings<Msg>> & { url?: string } = {},
) {
  return harness.start<Msg>(
    {
    stream,
    group: 'workers',
    consumerName: `c-${Math.random().toString(36).slice(2, 6)}`,
    deadLetterStream: dlq,
    deadLetterMaxLen: 1000,
    decode,
    ...(typeof handler === 'function' ? { handle: handler } : handler),
    concurrency: 4,
    batchSize: 10,
    blockMs: 100,
    claimIdleMs: 200,
    maxDeliveries: 3,
    ...overrides,
    },
    url,
  );
}

async function add(stream: string, fields: Record<string, string>, redis: Redis = admin) {
  return (await redis.xadd(stream, '*', ...Object.entries(fields).flat())) as string;
}

async function pendingCount(stream: string, group = 'workers') {
  const [count] = (await admin.xpending(stream, group)) as [number];
  return Number(count);
}

/** Waits until the dead-letter stream holds `count` entries, and returns them. */
async function waitForDeadLetters(dlq: string, count: number) {
  let letters: Record<string, string>[] = [];
  await waitFor(async () => (letters = await deadLetters(dlq)).length >= count, { what: `${count} dead letter(s) in ${dlq}` });
  return letters;
}

async function deadLetters(dlq: string) {
  const entries = (await admin.xrange(dlq, '-', '+')) as [string, string[]][];
  return entries.map(([, flat]) => fieldsToRecord(flat));
}

describe('the stream consumer', () => {
  it('processes every entry and acknowledges it', async () => {
    const { stream, dlq } = names();
    const seen: number[] = [];
    start(stream, dlq, async ({ n }) => {
      seen.push(n);
    });
    for (let n = 1; n <= 25; n++) await add(stream, { n: String(n) });
    await waitFor(() => seen.length === 25, { what: '25 entries processed' });
    expect(seen.toSorted((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'all acknowledged' });
  });

  it('picks up entries published before its group existed', async () => {
    const { stream, dlq } = names();
    await add(stream, { n: '7' });
    const seen: number[] = [];
    start(stream, dlq, async ({ n }) => {
      seen.push(n);
    });
    await waitFor(() => seen.includes(7), { what: 'the early entry' });
  });

  it('never runs more handlers at once than its concurrency', async () => {
    const { stream, dlq } = names();
    let active = 0;
    let peak = 0;
    let done = 0;
    start(
      stream,
      dlq,
      async () => {
        active++;
        peak = Math.max(peak, active);
        await Bun.sleep(5);
        active--;
        done++;
      },
      { concurrency: 3 },
    );
    for (let n = 0; n < 30; n++) await add(stream, { n: String(n) });
    await waitFor(() => done === 30, { what: 'all handled' });
    expect(peak).toBe(3);
  });

  it('dead-letters a malformed entry at once with the reason, and keeps going', async () => {
    const { stream, dlq } = names();
    const seen: number[] = [];
    start(stream, dlq, async ({ n }) => {
      seen.push(n);
    });
    await add(stream, { n: '1' });
    const badId = await add(stream, { n: 'one', note: 'poison' });
    await add(stream, { n: '2' });
    await waitFor(() => seen.length === 2, { what: 'the good entries' });
    const [letter] = await waitForDeadLetters(dlq, 1);
    expect(letter).toMatchObject({ originalStream: stream, originalId: badId, group: 'workers', deliveries: '1' });
    expect(letter!.error).toContain('field n is not an integer: "one"');
    expect(JSON.parse(letter!.fields!)).toEqual({ n: 'one', note: 'poison' });
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'the poison entry acknowledged' });
  });

  it('retries a failing entry after the idle threshold, then dead-letters it on its last delivery with the error and count', async () => {
    const { stream, dlq } = names();
    const deliveries: number[] = [];
    start(stream, dlq, async (_msg, meta) => {
      deliveries.push(meta.deliveries);
      throw new Error(`payment provider said no (try ${meta.deliveries})`);
    });
    const id = await add(stream, { n: '5' });
    const [letter] = await waitForDeadLetters(dlq, 1);
    expect(deliveries).toEqual([1, 2, 3]);
    expect(letter).toMatchObject({ originalId: id, deliveries: '3' });
    expect(letter!.error).toContain('payment provider said no (try 3)');
    expect(await pendingCount(stream)).toBe(0);
  });

  it('recovers after a handler failure when the retry succeeds', async () => {
    const { stream, dlq } = names();
    let calls = 0;
    const done: number[] = [];
    start(stream, dlq, async ({ n }) => {
      calls++;
      if (calls === 1) throw new Error('flaky');
      done.push(n);
    });
    await add(stream, { n: '9' });
    await waitFor(() => done.includes(9), { what: 'the retried entry' });
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'acknowledged' });
    expect(await deadLetters(dlq)).toEqual([]);
  });

  it('takes over entries a dead consumer left pending (XAUTOCLAIM)', async () => {
    const { stream, dlq, group } = names();
    await admin.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    for (let n = 1; n <= 5; n++) await add(stream, { n: String(n) });
    // A consumer reads them and dies before acknowledging.
    await admin.xreadgroup('GROUP', group, 'ghost', 'COUNT', 10, 'STREAMS', stream, '>');
    expect(await pendingCount(stream)).toBe(5);

    const seen: { n: number; deliveries: number }[] = [];
    start(stream, dlq, async ({ n }, meta) => {
      seen.push({ n, deliveries: meta.deliveries });
    });
    await waitFor(() => seen.length === 5, { what: 'the abandoned entries' });
    expect(seen.every((entry) => entry.deliveries === 2)).toBe(true);
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'acknowledged' });
  });

  it('dead-letters an entry that keeps killing its consumers instead of claiming it forever', async () => {
    const { stream, dlq, group } = names();
    await admin.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    const id = await add(stream, { n: '13' });
    await admin.xreadgroup('GROUP', group, 'ghost', 'COUNT', 1, 'STREAMS', stream, '>');
    // As if it had been claimed and crashed on three times already.
    await admin.xclaim(stream, group, 'ghost', 0, id, 'RETRYCOUNT', 3);

    const seen: number[] = [];
    start(stream, dlq, async ({ n }) => {
      seen.push(n);
    });
    const [letter] = await waitForDeadLetters(dlq, 1);
    expect(letter).toMatchObject({ originalId: id, deliveries: '4' });
    expect(letter!.error).toContain('without being acknowledged');
    expect(seen).toEqual([]);
  });

  it('pauses on a dependency outage without dead-lettering, and resumes when the probe passes', async () => {
    const { stream, dlq } = names();
    let databaseUp = false;
    const done: number[] = [];
    const unreachable = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const consumer = start(
      stream,
      dlq,
      async ({ n }) => {
        if (!databaseUp) throw unreachable;
        done.push(n);
      },
      {
        // The library knows no database: the caller says which failures mean "a dependency is away".
        dependency: {
          isTransient: (error) => error === unreachable,
          probe: async () => {
            if (!databaseUp) throw unreachable;
          },
        },
        maxDeliveries: 1,
      },
    );
    await add(stream, { n: '21' });
    await waitFor(() => consumer.status().pausedBecause === 'dependency unavailable', { what: 'the pause' });
    // Well past CLAIM_IDLE_MS and MAX_DELIVERIES=1: still pending, not dead-lettered.
    await waitFor(() => logs.lines.filter((line) => line.msg === 'dependency still unavailable; probing again').length > 0, { what: 'a failed probe' });
    expect(await deadLetters(dlq)).toEqual([]);
    expect(await pendingCount(stream)).toBe(1);

    databaseUp = true;
    await waitFor(() => done.includes(21), { what: 'processing after the outage' });
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'acknowledged' });
    expect(await deadLetters(dlq)).toEqual([]);
  });

  it('holds off new entries while its gate is closed', async () => {
    const { stream, dlq } = names();
    let open = false;
    const done: number[] = [];
    const consumer = start(stream, dlq, async ({ n }) => void done.push(n), { gate: () => (open ? 0 : 50) });
    await add(stream, { n: '3' });
    await waitFor(() => consumer.status().state === 'paused', { what: 'the paused state' });
    const [length] = [await admin.xlen(stream)];
    expect(length).toBe(1);
    expect(done).toEqual([]);
    open = true;
    await waitFor(() => done.includes(3), { what: 'the entry after the gate opened' });
  });

  it('recreates its group when Redis comes back empty (NOGROUP)', async () => {
    const { stream, dlq } = names();
    const seen: number[] = [];
    start(stream, dlq, async ({ n }) => void seen.push(n));
    await add(stream, { n: '1' });
    await waitFor(() => seen.includes(1), { what: 'the first entry' });
    await admin.del(stream);
    await add(stream, { n: '2' });
    await waitFor(() => seen.includes(2), { what: 'an entry after the stream and group vanished' });
    expect(logs.lines.some((line) => line.msg === 'consumer group is gone; recreating it')).toBe(true);
  });

  it('rides out Redis going away and carries on when it returns', async () => {
    const server = await startPrivateRedis();
    const { stream, dlq } = names();
    const own = connectRedis(server.url);
    try {
      const seen: number[] = [];
      const consumer = start(stream, dlq, async ({ n }) => void seen.push(n), { url: server.url });
      await add(stream, { n: '1' }, own);
      await waitFor(() => seen.includes(1), { what: 'the first entry' });

      await server.stop();
      await waitFor(() => consumer.status().state === 'reconnecting' && !consumer.status().redisOk, { what: 'the outage to show' });

      await server.start();
      // Redis came back empty (no persistence): the consumer must recreate its group, too.
      await waitFor(async () => {
        try {
          await own.ping();
          return true;
        } catch {
          return false;
        }
      }, { what: 'the test connection to reconnect' });
      await add(stream, { n: '2' }, own);
      await waitFor(() => seen.includes(2), { what: 'an entry after the outage', timeoutMs: 15_000 });
      expect(consumer.status().redisOk).toBe(true);
    } finally {
      own.disconnect();
      await server.destroy();
    }
  });

  describe('stop()', () => {
    it('lets in-flight work finish and acknowledges it', async () => {
      const { stream, dlq } = names();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let started = false;
      const consumer = start(stream, dlq, async () => {
        started = true;
        await gate;
      });
      await add(stream, { n: '1' });
      await waitFor(() => started, { what: 'the handler to start' });
      const stopping = consumer.stop(5000);
      release();
      expect(await stopping).toEqual({ unfinished: 0 });
      expect(await pendingCount(stream)).toBe(0);
    });

    it('leaves work that outlives the deadline pending for another consumer', async () => {
      const { stream, dlq } = names();
      let started = false;
      const consumer = start(stream, dlq, async () => {
        started = true;
        await new Promise(() => {});
      });
      await add(stream, { n: '1' });
      await waitFor(() => started, { what: 'the handler to start' });
      expect(await consumer.stop(100)).toEqual({ unfinished: 1 });
      expect(await pendingCount(stream)).toBe(1);
    });
  });
});

describe('trimming', () => {
  it('removes old acknowledged entries but never undelivered or pending ones', async () => {
    const { stream, group } = names();
    await admin.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    const ids: string[] = [];
    for (let n = 0; n < 10; n++) ids.push((await admin.xadd(stream, `${1000 + n}-0`, 'n', String(n))) as string);
    // Entries 0-5 delivered; 0-3 acked, 4-5 pending; 6-9 never delivered.
    await admin.xreadgroup('GROUP', group, 'c', 'COUNT', 6, 'STREAMS', stream, '>');
    await admin.xack(stream, group, ...ids.slice(0, 4));

    const removed = await trimAcknowledged(admin, stream, 0, Date.now());
    expect(removed).toBe(4);
    const left = ((await admin.xrange(stream, '-', '+')) as [string, string[]][]).map(([id]) => id);
    expect(left).toEqual(ids.slice(4));
  });

  it('keeps everything newer than the age limit', async () => {
    const { stream, group } = names();
    await admin.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    await admin.xadd(stream, '*', 'n', '1');
    await admin.xreadgroup('GROUP', group, 'c', 'COUNT', 1, 'STREAMS', stream, '>');
    const [entry] = (await admin.xrange(stream, '-', '+')) as [string, string[]][];
    await admin.xack(stream, group, entry![0]);
    expect(await trimAcknowledged(admin, stream, 60_000)).toBe(0);
    expect(await admin.xlen(stream)).toBe(1);
  });

  it('does nothing on a stream no group reads yet', async () => {
    const { stream } = names();
    await admin.xadd(stream, '1-0', 'n', '1');
    expect(await trimAcknowledged(admin, stream, 0)).toBe(0);
  });
});

describe('the stream consumer, regressions found with faults', () => {
  it('reads the delivery count of every claimed entry, even with its own pending entries in between', async () => {
    const { stream, dlq } = names();
    for (let i = 1; i <= 4; i++) await admin.xadd(stream, `1-${i}`, 'n', String(i));
    await admin.xgroup('CREATE', stream, 'workers', '0');
    await admin.xreadgroup('GROUP', 'workers', 'z', 'COUNT', 4, 'STREAMS', stream, '>');
    // 1-2 and 1-4: a dead consumer's, delivered 5 times and idle long since; 1-1 and 1-3: ours, being worked on.
    await admin.xclaim(stream, 'workers', 'dead', 0, '1-2', '1-4', 'IDLE', 600_000, 'RETRYCOUNT', 5);
    await admin.xclaim(stream, 'workers', 'me', 0, '1-1', '1-3', 'IDLE', 0, 'RETRYCOUNT', 1);
    const handled: number[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    start(
      stream,
      dlq,
      async ({ n }) => {
        handled.push(n);
        await blocked;
      },
      { consumerName: 'me', maxDeliveries: 3, claimIdleMs: 5000 },
    );
    const letters = await waitForDeadLetters(dlq, 2);
    expect(letters.map((l) => l.originalId).toSorted()).toEqual(['1-2', '1-4']);
    expect(letters.every((l) => Number(l.deliveries) > 3)).toBe(true);
    // Neither was run: both had been delivered more than MAX_DELIVERIES times.
    expect(handled.toSorted()).toEqual([1, 3]);
    release();
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'all acknowledged' });
  });

  it('never takes back an entry another consumer claimed while it waited for its dependency', async () => {
    const { stream, dlq } = names();
    let down = true;
    const unreachable = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const mine: number[] = [];
    const theirs: number[] = [];
    start(
      stream,
      dlq,
      async ({ n }) => {
        mine.push(n);
        if (down) throw unreachable;
      },
      {
        consumerName: 'waiting',
        claimIdleMs: 200,
        dependency: {
          isTransient: (error) => error === unreachable,
          probe: async () => {
            if (down) throw unreachable;
          },
        },
      },
    );
    await add(stream, { n: '1' });
    await waitFor(() => mine.length === 1, { what: 'the first, failing attempt' });
    // Another consumer takes it over once it has sat idle past CLAIM_IDLE_MS, and works on it a while.
    let finish!: () => void;
    const working = new Promise<void>((resolve) => (finish = resolve));
    start(
      stream,
      dlq,
      async ({ n }) => {
        theirs.push(n);
        await working;
      },
      { consumerName: 'rescuer', claimIdleMs: 200 },
    );
    await waitFor(() => theirs.length === 1, { what: 'the other consumer to claim it' });
    // The dependency comes back while the rescuer still holds the entry.
    down = false;
    await waitFor(() => logs.lines.some((l) => l.msg === 'entries awaiting a retry were taken over by another consumer meanwhile'), {
      what: 'the waiting consumer to notice',
    });
    const [row] = (await admin.xpending(stream, 'workers', '-', '+', 10)) as [string, string, number, number][];
    expect(row?.[1]).toBe('rescuer');
    expect(mine).toEqual([1]);
    finish();
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'acknowledged by the rescuer' });
    expect(theirs).toEqual([1]);
  });

  it('takes no new entries while its dependency is down, only after the probe passes', async () => {
    const { stream, dlq } = names();
    let down = true;
    let probes = 0;
    const unreachable = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const seen: number[] = [];
    start(
      stream,
      dlq,
      async ({ n }) => {
        if (down) throw unreachable;
        seen.push(n);
      },
      {
        dependency: {
          isTransient: (error) => error === unreachable,
          probe: async () => {
            probes++;
            if (down) throw unreachable;
          },
        },
      },
    );
    await add(stream, { n: '1' });
    await waitFor(() => probes >= 1, { what: 'the consumer to pause and probe' });
    await add(stream, { n: '2' });
    await waitFor(() => probes >= 3, { what: 'two more probes' });
    const [group] = ((await admin.xinfo('GROUPS', stream)) as string[][]).map((raw) => fieldsToRecord(raw.map(String)));
    // The second entry was never delivered: still lag, not pending.
    expect(Number(group!.lag)).toBe(1);
    expect(await pendingCount(stream)).toBe(1);
    down = false;
    await waitFor(() => seen.length === 2, { what: 'both entries after the outage' });
  });
});

describe('the stream consumer with a batch handler', () => {
  it('hands over up to batchSize valid entries at once and acknowledges them together', async () => {
    const { stream, dlq } = names();
    for (let n = 1; n <= 30; n++) await add(stream, { n: String(n) });
    const sizes: number[] = [];
    const seen: number[] = [];
    start(
      stream,
      dlq,
      {
        handleBatch: async (batch) => {
          sizes.push(batch.length);
          seen.push(...batch.map(({ message }) => message.n));
        },
      },
      { concurrency: 20, batchSize: 10 },
    );
    await waitFor(() => seen.length === 30, { what: '30 entries' });
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'all acknowledged' });
  });

  it('dead-letters a poison entry of a batch without failing the rest', async () => {
    const { stream, dlq } = names();
    await add(stream, { n: '1' });
    await add(stream, { n: 'not a number' });
    await add(stream, { n: '3' });
    const seen: number[] = [];
    start(stream, dlq, { handleBatch: async (batch) => void seen.push(...batch.map(({ message }) => message.n)) }, { concurrency: 10, batchSize: 10 });
    const [letter] = await waitForDeadLetters(dlq, 1);
    expect(letter!.error).toContain('field n is not an integer');
    await waitFor(() => seen.length === 2, { what: 'the two valid entries' });
    expect(seen.toSorted()).toEqual([1, 3]);
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'all acknowledged' });
  });

  it('fails only the entries the handler names, and leaves a batch that failed on an outage pending until the probe passes', async () => {
    const { stream, dlq } = names();
    let down = true;
    const unreachable = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const done: number[] = [];
    let calls = 0;
    start(
      stream,
      dlq,
      {
        handleBatch: async (batch) => {
          calls++;
          if (down) throw unreachable;
          // n = 2 is refused by the handler on every delivery; the rest succeed.
          done.push(...batch.filter(({ message }) => message.n !== 2).map(({ message }) => message.n));
          return { failed: batch.filter(({ message }) => message.n === 2).map(({ meta }) => ({ id: meta.id, error: new Error('refused') })) };
        },
      },
      {
        concurrency: 10,
        batchSize: 10,
        maxDeliveries: 2,
        dependency: {
          isTransient: (error) => error === unreachable,
          probe: async () => {
            if (down) throw unreachable;
          },
        },
      },
    );
    for (let n = 1; n <= 3; n++) await add(stream, { n: String(n) });
    await waitFor(() => calls >= 1, { what: 'the batch to meet the outage' });
    expect(await deadLetters(dlq)).toEqual([]);
    expect(await pendingCount(stream)).toBe(3);
    down = false;
    await waitFor(() => done.length === 2, { what: 'the two good entries after the outage' });
    // The refused one is retried on its next delivery and dead-lettered on its last, with the reason.
    const [letter] = await waitForDeadLetters(dlq, 1);
    expect(letter).toMatchObject({ error: 'Error: refused', deliveries: '2' });
    expect(done.toSorted()).toEqual([1, 3]);
    await waitFor(async () => (await pendingCount(stream)) === 0, { what: 'nothing left pending' });
  });
});
