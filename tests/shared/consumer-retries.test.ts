import { describe, expect, it } from 'bun:test';
import type { ConsumerSettings, MessageMeta } from '../../src/shared/streams/consumer.ts';
import { readDeadLetter } from '../../src/shared/streams/dead-letter.ts';
import { retryBacklog } from '../../src/shared/streams/delayed-retries.ts';
import { PoisonMessage } from '../../src/shared/streams/poison-message.ts';
import { RetryLater } from '../../src/shared/streams/retry-later.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';
import { consumerHarness } from '../helpers/consumer-harness.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

/**
 * Retries on a schedule, through the consumer on real Redis: a failed entry leaves the consumer (no
 * handler, no pending entry) for its group's delayed set, comes back when due with its attempt count,
 * and is dead-lettered with every attempt's reason once the schedule is spent.
 */
const harness = consumerHarness('retries');
const { prefix, admin } = harness;

let seq = 0;
const names = () => ({ stream: `${prefix}s${++seq}`, dlq: `${prefix}s${seq}.dlq` });

function decode(fields: Record<string, string>) {
  const n = Number(fields.n);
  if (!Number.isInteger(n)) throw new PoisonMessage('no n');
  return { n };
}

function start(stream: string, dlq: string, handle: (message: { n: number }, meta: MessageMeta) => Promise<void>, overrides: Partial<ConsumerSettings<{ n: number }>> = {}) {
  return harness.start<{ n: number }>({
    stream,
    group: 'workers',
    consumerName: `c-${Math.random().toString(36).slice(2, 6)}`,
    deadLetterStream: dlq,
    deadLetterMaxLen: 1000,
    decode,
    handle,
    concurrency: 4,
    batchSize: 10,
    blockMs: 100,
    claimIdleMs: 5000,
    maxDeliveries: 3,
    retrySchedule: [100, 100, 100],
    retryPollMs: 50,
    ...overrides,
  });
}

const pending = async (stream: string, group = 'workers') => ((await admin.xpending(stream, group)) as [number])[0];

describe('a consumer with a retry schedule', () => {
  it('sends a failing entry to wait in Redis and runs it again when due, while the others flow', async () => {
    const { stream, dlq } = names();
    const attempts: Record<number, number[]> = {};
    let waitingSeen = 0;
    start(stream, dlq, async ({ n }, meta) => {
      (attempts[n] ??= []).push(meta.attempt ?? 1);
      // Every 5th entry fails its first two attempts.
      if (n % 5 === 0 && (meta.attempt ?? 1) < 3) throw new Error(`issuer timed out for ${n}`);
    });
    for (let n = 1; n <= 20; n++) await admin.xadd(stream, '*', 'n', String(n));

    // While the failing ones wait, they hold nothing in the group: no pending entry, only the delayed set.
    await waitFor(async () => {
      const backlog = await retryBacklog(admin, { stream, group: 'workers' });
      if (backlog.waiting > 0 && (await pending(stream)) === 0) waitingSeen = backlog.waiting;
      return Object.keys(attempts).length === 20 && [5, 10, 15, 20].every((n) => attempts[n]?.length === 3);
    }, { what: 'every entry to be handled, the failing ones on their third attempt' });
    expect(waitingSeen).toBeGreaterThan(0);
    for (let n = 1; n <= 20; n++) expect(attempts[n]).toEqual(n % 5 === 0 ? [1, 2, 3] : [1]);
    await waitFor(async () => (await pending(stream)) === 0, { what: 'every entry acknowledged' });
    expect(await retryBacklog(admin, { stream, group: 'workers' })).toMatchObject({ waiting: 0 });
    expect(await admin.xlen(dlq)).toBe(0);
  });

  it('dead-letters the entry once the schedule is spent, with every attempt and its reason', async () => {
    const { stream, dlq } = names();
    let calls = 0;
    start(stream, dlq, async () => {
      calls++;
      throw new Error(`mailbox busy #${calls}`);
    });
    await admin.xadd(stream, '*', 'n', '7');
    const letters = await waitFor(async () => {
      const found = (await admin.xrange(dlq, '-', '+')) as [string, string[]][];
      return found.length > 0 && found;
    }, { what: 'the dead letter' });
    const letter = fieldsToRecord(letters[0]![1]);
    // The first attempt and the schedule's three retries.
    expect(calls).toBe(4);
    expect(letter.error).toContain('failed 4 attempts');
    for (let i = 1; i <= 4; i++) expect(letter.error).toContain(`attempt ${i} at `);
    for (let i = 1; i <= 4; i++) expect(letter.error).toContain(`mailbox busy #${i}`);
    // The same history as a list a tool can read: one item per attempt, numbered, in order, each with its time and reason.
    const { attempts } = readDeadLetter(letters[0]![1]);
    expect(attempts?.map(({ attempt, reason }) => ({ attempt, reason }))).toEqual([1, 2, 3, 4].map((i) => ({ attempt: i, reason: `Error: mailbox busy #${i}` })));
    const times = attempts!.map(({ at }) => Date.parse(at));
    expect(times.every((time, i) => Number.isFinite(time) && (i === 0 || time >= times[i - 1]!))).toBe(true);
    // Each attempt came back no sooner than its step (100 ms, jittered down to 80 ms).
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(80 - 20);
    // The dead letter keeps the entry's own fields, not the schedule's bookkeeping.
    expect(JSON.parse(letter.fields!)).toEqual({ n: '7' });
    expect(await pending(stream)).toBe(0);
  });

  it('keeps the earlier attempts of an entry found poison on a later one, and none for an entry never retried', async () => {
    const { stream, dlq } = names();
    start(stream, dlq, async ({ n }, meta) => {
      if (n === 2) throw new PoisonMessage('order 2 does not exist');
      if ((meta.attempt ?? 1) === 1) throw new Error('issuer timed out');
      throw new PoisonMessage('card number no longer valid');
    });
    await admin.xadd(stream, '*', 'n', '1');
    await admin.xadd(stream, '*', 'n', '2');
    const letters = await waitFor(async () => {
      const found = ((await admin.xrange(dlq, '-', '+')) as [string, string[]][]).map(([, flat]) => readDeadLetter(flat));
      return found.length === 2 && found;
    }, { what: 'both dead letters' });
    const retried = letters.find((letter) => letter.fields.n === '1')!;
    expect(retried.error).toBe('PoisonMessage: card number no longer valid');
    expect(retried.attempts?.map(({ attempt, reason }) => ({ attempt, reason }))).toEqual([
      { attempt: 1, reason: 'Error: issuer timed out' },
      { attempt: 2, reason: 'PoisonMessage: card number no longer valid' },
    ]);
    const firstTime = letters.find((letter) => letter.fields.n === '2')!;
    expect(firstTime.error).toBe('PoisonMessage: order 2 does not exist');
    expect(firstTime).not.toHaveProperty('attempts');
  });

  it("waits at least as long as the other side's Retry-After when it is longer than the schedule's step", async () => {
    const { stream, dlq } = names();
    let first = 0;
    let second = 0;
    start(stream, dlq, async () => {
      if (first === 0) {
        first = Date.now();
        throw new RetryLater('429 Too Many Requests', { retryAfterMs: 1500 });
      }
      second ||= Date.now();
    });
    await admin.xadd(stream, '*', 'n', '1');
    await waitFor(() => first > 0, { what: 'the first attempt' });
    const backlog = await waitFor(async () => {
      const found = await retryBacklog(admin, { stream, group: 'workers' });
      return found.waiting === 1 && found;
    }, { what: 'the entry to wait' });
    expect(backlog.nextDueAt! - first).toBeGreaterThanOrEqual(1500 - 50);
    await waitFor(() => second > 0, { what: 'the second attempt', timeoutMs: 10_000 });
    expect(second - first).toBeGreaterThanOrEqual(1500 - 50);
  });

  it("comes back only to its own group: another group of the stream does not see it again", async () => {
    const { stream, dlq } = names();
    const seenByOthers: number[] = [];
    let failedOnce = false;
    let retried = false;
    start(stream, dlq, async (_, meta) => {
      if (!failedOnce) {
        failedOnce = true;
        throw new Error('webhook endpoint answered 503');
      }
      retried = (meta.attempt ?? 1) === 2;
    });
    start(stream, `${dlq}.other`, async ({ n }) => void seenByOthers.push(n), { group: 'others' });
    await admin.xadd(stream, '*', 'n', '3');
    await waitFor(() => retried, { what: 'the retry in its own group' });
    await waitFor(async () => (await pending(stream, 'others')) === 0 && (await pending(stream)) === 0, { what: 'both groups to settle' });
    expect(seenByOthers).toEqual([3]);
  });
});
