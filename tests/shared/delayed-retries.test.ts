import { afterAll, afterEach, describe, expect, it } from 'bun:test';
import type { Subprocess } from 'bun';
import type Redis from 'ioredis';
import { park, releaseDue, retryBacklog, type ParkInput } from '../../src/shared/streams/delayed-retries.ts';
import { PoisonMessage } from '../../src/shared/streams/poison-message.ts';
import { isNoGroupError } from '../../src/shared/streams/redis.ts';
import { readRetryFields, RETRY_FIELDS } from '../../src/shared/streams/retry-fields.ts';
import { delayedRetryKeys } from '../../src/shared/streams/retry-keys.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';
import { connectRedis, deleteKeys, startPrivateRedis, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(120_000);

/**
 * Delayed retries (src/shared/streams/delayed-retries.ts) on real Redis: an entry parked out of its
 * group's pending list comes back to the stream when due, once, whoever releases it, and a process
 * SIGKILLed part-way through parking or releasing leaves every entry in exactly one place.
 */
const prefix = uniquePrefix('delayed-retries');
const admin = connectRedis();
const GROUP = 'workers';
const CONSUMER = 'c1';
const CHILD = new URL('../helpers/delayed-retries-child.ts', import.meta.url).pathname;

const extraConnections: Redis[] = [];
const children: Subprocess[] = [];
const servers: { destroy(): Promise<void> }[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await child.exited;
  }
});
afterAll(async () => {
  for (const connection of extraConnections) connection.disconnect();
  await Promise.all(servers.map((server) => server.destroy()));
  await deleteKeys(admin, prefix);
  admin.disconnect();
});

let streamSeq = 0;
// Partitioned, as the pipeline's streams are: the delayed set must keep the hash tag.
const newStream = () => `${prefix}s${++streamSeq}:{${streamSeq % 4}}`;

/** Creates the group, publishes `count` entries and reads them as CONSUMER: they are pending for it. */
async function pendingEntries(redis: Redis, stream: string, count: number): Promise<{ id: string; fields: Record<string, string> }[]> {
  await redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
  for (let from = 0; from < count; from += 1000) {
    const pipeline = redis.pipeline();
    for (let n = from; n < Math.min(count, from + 1000); n++) pipeline.xadd(stream, '*', 'n', String(n), 'orderId', `o-${n}`);
    await pipeline.exec();
  }
  const reply = (await redis.xreadgroup('GROUP', GROUP, CONSUMER, 'COUNT', count, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
  return reply[0]![1].map(([id, flat]) => ({ id, fields: fieldsToRecord(flat) }));
}

function parkInput(stream: string, entry: { id: string; fields: Record<string, string> }, dueAt: number, extra: Partial<ParkInput> = {}): ParkInput {
  return { stream, group: GROUP, id: entry.id, fields: entry.fields, attempt: 1, firstFailedAt: 1000, history: [{ at: 1000, reason: 'gateway timeout' }], dueAt, ...extra };
}

async function pendingIds(redis: Redis, stream: string): Promise<string[]> {
  const rows = (await redis.xpending(stream, GROUP, '-', '+', 100_000)) as [string][];
  return rows.map(([id]) => id);
}

/** The original ids waiting in the delayed set; checks the two sets hold the same members. */
async function waitingIds(redis: Redis, stream: string): Promise<string[]> {
  const keys = delayedRetryKeys(stream, GROUP);
  const due = await redis.zrange(keys.due, 0, -1);
  expect((await redis.zrange(keys.since, 0, -1)).sort()).toEqual([...due].sort());
  return due.map((member) => fieldsToRecord(JSON.parse(member))[RETRY_FIELDS.originalId]!);
}

/** The original ids of the retries released onto the stream (entries with retry fields). */
async function releasedIds(redis: Redis, stream: string): Promise<string[]> {
  const entries = await redis.xrange(stream, '-', '+');
  return entries.map(([, flat]) => readRetryFields(fieldsToRecord(flat)).retry?.originalId).filter((id): id is string => id !== undefined);
}

describe('park and releaseDue', () => {
  it('takes a failed entry out of the pending list and brings it back to its group when due, with its retry fields', async () => {
    const stream = newStream();
    const [entry] = await pendingEntries(admin, stream, 1);
    const dueAt = Date.now() + 300;
    expect(await park(admin, parkInput(stream, entry!, dueAt, { history: [{ at: 1000, reason: 'gateway timeout' }] }))).toBe(true);

    expect(await pendingIds(admin, stream)).toEqual([]);
    expect(await retryBacklog(admin, { stream, group: GROUP })).toEqual({ waiting: 1, nextDueAt: dueAt, oldestSince: 1000 });
    // Not before it is due (a clock given, so a slow machine cannot make this check late).
    expect(await releaseDue(admin, { stream, group: GROUP, limit: 10, now: dueAt - 1 })).toEqual({ moved: 0, nextDueAt: dueAt });
    // Then on Redis's clock.
    await waitFor(async () => (await releaseDue(admin, { stream, group: GROUP, limit: 10 })).moved === 1, { timeoutMs: 5000, what: 'the retry to come due' });

    const reply = (await admin.xreadgroup('GROUP', GROUP, CONSUMER, 'COUNT', 10, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    const delivered = reply[0]![1];
    expect(delivered).toHaveLength(1);
    const read = readRetryFields(fieldsToRecord(delivered[0]![1]));
    expect(read.fields).toEqual(entry!.fields);
    expect(read.retry).toEqual({ group: GROUP, attempt: 1, firstFailedAt: 1000, originalId: entry!.id, history: [{ at: 1000, reason: 'gateway timeout' }] });
    expect(await retryBacklog(admin, { stream, group: GROUP })).toEqual({ waiting: 0, nextDueAt: undefined, oldestSince: undefined });
  });

  it('parks an entry once, however often park is called for it', async () => {
    const stream = newStream();
    const [entry] = await pendingEntries(admin, stream, 1);
    expect(await park(admin, parkInput(stream, entry!, 5000))).toBe(true);
    // A retried call, even with a new jittered due time, finds it no longer pending.
    expect(await park(admin, parkInput(stream, entry!, 6000))).toBe(false);
    expect(await waitingIds(admin, stream)).toEqual([entry!.id]);
  });

  it('leaves an entry claimed by another consumer to that consumer', async () => {
    const stream = newStream();
    const [entry] = await pendingEntries(admin, stream, 1);
    await admin.xclaim(stream, GROUP, 'c2', 0, entry!.id, 'JUSTID');
    expect(await park(admin, parkInput(stream, entry!, 5000, { consumer: CONSUMER }))).toBe(false);
    expect(await pendingIds(admin, stream)).toEqual([entry!.id]);
    expect(await park(admin, parkInput(stream, entry!, 5000, { consumer: 'c2' }))).toBe(true);
  });

  it('reports a vanished group as NOGROUP, which the consumer already recovers from', async () => {
    const stream = newStream();
    const [entry] = await pendingEntries(admin, stream, 1);
    await admin.xgroup('DESTROY', stream, GROUP);
    const error = await park(admin, parkInput(stream, entry!, 5000)).catch((e: unknown) => e);
    expect(isNoGroupError(error)).toBe(true);
  });

  it('moves at most `limit` per call, soonest due first, and says when the next is due', async () => {
    const stream = newStream();
    const entries = await pendingEntries(admin, stream, 5);
    const dueTimes = [500, 100, 400, 200, 300];
    for (const [i, entry] of entries.entries()) await park(admin, parkInput(stream, entry, dueTimes[i]!, { firstFailedAt: 50 + i }));
    expect(await retryBacklog(admin, { stream, group: GROUP })).toEqual({ waiting: 5, nextDueAt: 100, oldestSince: 50 });

    expect(await releaseDue(admin, { stream, group: GROUP, limit: 2, now: 1000 })).toEqual({ moved: 2, nextDueAt: 300 });
    expect(await releasedIds(admin, stream)).toEqual([entries[1]!.id, entries[3]!.id]);
    // Only what is due by `now`.
    expect(await releaseDue(admin, { stream, group: GROUP, limit: 10, now: 400 })).toEqual({ moved: 2, nextDueAt: 500 });
    expect(await retryBacklog(admin, { stream, group: GROUP })).toEqual({ waiting: 1, nextDueAt: 500, oldestSince: 50 });
  });

  it('never moves one entry twice when two replicas release at once', async () => {
    const stream = newStream();
    const entries = await pendingEntries(admin, stream, 300);
    await Promise.all(entries.map((entry) => park(admin, parkInput(stream, entry, 0))));
    const replicas = [connectRedis(), connectRedis()];
    extraConnections.push(...replicas);

    const moved = await Promise.all(
      replicas.map(async (redis) => {
        let total = 0;
        for (;;) {
          const { moved: now } = await releaseDue(redis, { stream, group: GROUP, limit: 7 });
          if (now === 0) return total;
          total += now;
        }
      }),
    );
    const released = await releasedIds(admin, stream);
    expect(moved[0]! + moved[1]!).toBe(300);
    expect(released).toHaveLength(300);
    expect(new Set(released).size).toBe(300);
    expect(await waitingIds(admin, stream)).toEqual([]);
  });

  it('sends a member that does not read back to the stream as unreadable, and goes on with the rest', async () => {
    const stream = newStream();
    const [entry] = await pendingEntries(admin, stream, 1);
    await park(admin, parkInput(stream, entry!, 200));
    await admin.zadd(delayedRetryKeys(stream, GROUP).due, 100, 'not json');
    expect(await releaseDue(admin, { stream, group: GROUP, limit: 10, now: 1000 })).toEqual({ moved: 2, nextDueAt: undefined });
    const [unreadable, retried] = (await admin.xrange(stream, '-', '+')).slice(1).map(([, flat]) => fieldsToRecord(flat));
    expect(() => readRetryFields(unreadable!)).toThrow(PoisonMessage);
    expect(readRetryFields(retried!).retry?.originalId).toBe(entry!.id);
  });
});

describe('a process SIGKILLed part-way', () => {
  function spawnChild(env: Record<string, string>): Subprocess {
    const child = Bun.spawn([process.execPath, CHILD], {
      env: { PATH: Bun.env.PATH ?? '', REDIS_URL: TEST_REDIS_URL, GROUP, CONSUMER, ...env },
      stdout: 'ignore',
      stderr: 'pipe',
    });
    children.push(child);
    return child;
  }

  async function killWhen(child: Subprocess, reached: () => Promise<boolean>, what: string): Promise<void> {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`the child exited (${child.exitCode}) before ${what}`);
      return reached();
    }, { timeoutMs: 20_000, intervalMs: 1, what });
    child.kill('SIGKILL');
    await child.exited;
    expect(child.signalCode).toBe('SIGKILL');
  }

  // Several places to cut, from the first few moves to well into the run.
  for (const killAfter of [1, 100, 1500]) {
    it(`while parking (after ${killAfter}+ parks) leaves every entry pending or waiting, never both, never neither`, async () => {
      const stream = newStream();
      const N = 20_000;
      const ids = (await pendingEntries(admin, stream, N)).map((entry) => entry.id);
      const child = spawnChild({ MODE: 'park', STREAM: stream });
      const due = delayedRetryKeys(stream, GROUP).due;
      await killWhen(child, async () => (await admin.zcard(due)) >= killAfter, `${killAfter} parks`);

      const pending = await pendingIds(admin, stream);
      const waiting = await waitingIds(admin, stream);
      // Killed in the middle, not before it began or after it ended.
      expect(waiting.length).toBeGreaterThanOrEqual(killAfter);
      expect(waiting.length).toBeLessThan(N);
      expect(new Set(waiting).size).toBe(waiting.length);
      expect(pending.filter((id) => waiting.includes(id))).toEqual([]);
      expect([...pending, ...waiting].sort()).toEqual([...ids].sort());
    });

    it(`while releasing (after ${killAfter}+ moves) leaves every entry waiting or back on the stream, never both, never neither`, async () => {
      const stream = newStream();
      const N = 20_000;
      const entries = await pendingEntries(admin, stream, N);
      for (let from = 0; from < N; from += 1000) {
        await Promise.all(entries.slice(from, from + 1000).map((entry) => park(admin, parkInput(stream, entry, 0))));
      }
      const ids = entries.map((entry) => entry.id);
      const child = spawnChild({ MODE: 'release', STREAM: stream, LIMIT: '1' });
      await killWhen(child, async () => (await admin.xlen(stream)) >= N + killAfter, `${killAfter} moves`);

      const released = await releasedIds(admin, stream);
      const waiting = await waitingIds(admin, stream);
      expect(released.length).toBeGreaterThanOrEqual(killAfter);
      expect(released.length).toBeLessThan(N);
      expect(new Set(released).size).toBe(released.length);
      const waitingSet = new Set(waiting);
      expect(released.filter((id) => waitingSet.has(id))).toEqual([]);
      expect([...released, ...waiting].sort()).toEqual([...ids].sort());
    });
  }
});

describe('a Redis wiped while entries wait', () => {
  it('loses the waiting entries with their stream, raises nothing from the mover, and parks again once the group is back', async () => {
    const server = await startPrivateRedis();
    servers.push(server);
    const redis = connectRedis(server.url);
    extraConnections.push(redis);
    const stream = newStream();
    const entries = await pendingEntries(redis, stream, 3);
    for (const entry of entries) await park(redis, parkInput(stream, entry, Date.now() + 60_000));

    // Everything goes at once: the stream, its group and the delayed set sit on one Redis.
    await redis.flushall();
    expect(await releaseDue(redis, { stream, group: GROUP, limit: 10 })).toEqual({ moved: 0, nextDueAt: undefined });
    expect(await retryBacklog(redis, { stream, group: GROUP })).toEqual({ waiting: 0, nextDueAt: undefined, oldestSince: undefined });
    // The script cache went too (flushall drops no scripts, but a restarted Redis has none): runs from source.
    await redis.script('FLUSH');
    const error = await park(redis, parkInput(stream, entries[0]!, 0)).catch((e: unknown) => e);
    expect(isNoGroupError(error)).toBe(true);

    // The consumer recreates its group (MKSTREAM) and carries on: new failures park and come back.
    const [fresh] = await pendingEntries(redis, stream, 1);
    expect(await park(redis, parkInput(stream, fresh!, 0))).toBe(true);
    expect((await releaseDue(redis, { stream, group: GROUP, limit: 10 })).moved).toBe(1);
    expect(await releasedIds(redis, stream)).toEqual([fresh!.id]);
  });
});
