import { describe, expect, it } from 'bun:test';
import { createReadRounds } from '../../src/api/services/read-rounds.ts';

/** A read whose answers the test hands out one call at a time. */
function controlledRead() {
  const calls: { keys: string[]; answer: (values: Record<string, number>) => void; fail: (error: Error) => void }[] = [];
  const read = (keys: string[]) =>
    new Promise<Map<string, number>>((resolve, reject) => {
      calls.push({ keys, answer: (values) => resolve(new Map(Object.entries(values))), fail: reject });
    });
  return { calls, read };
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function rounds(read: (keys: string[]) => Promise<Map<string, number>>, wanted: (key: string) => boolean = () => true) {
  const seen: [string, number | undefined][] = [];
  const failed: string[][] = [];
  const reads = createReadRounds<string, number>({ read, maxPerRound: 3, wanted, onRead: (key, value) => seen.push([key, value]), onFailed: (keys) => failed.push(keys) });
  return { reads, seen, failed };
}

describe('reading in rounds', () => {
  it('reads every key asked for in the same step in one call, each once, and tells each waiter its value', async () => {
    const { calls, read } = controlledRead();
    const { reads, seen } = rounds(read);
    const a = reads.next('a');
    reads.schedule('b');
    const a2 = reads.next('a');
    await settle();
    expect(calls.map((call) => call.keys)).toEqual([['a', 'b']]);
    calls[0]!.answer({ a: 1 });
    expect(await Promise.all([a, a2])).toEqual([1, 1]);
    expect(seen).toEqual([['a', 1], ['b', undefined]]);
  });

  it('reads a key asked for while a round runs in the next round, so reads of one key never overlap', async () => {
    const { calls, read } = controlledRead();
    const { reads, seen } = rounds(read);
    const first = reads.next('a');
    const second = reads.next('a').then(() => 'second');
    const third = reads.next('a');
    await settle();
    expect(calls).toHaveLength(1);
    // Asked for after the first round started: it waits for a read that starts after it.
    const later = reads.next('a');
    expect(calls).toHaveLength(1);
    calls[0]!.answer({ a: 1 });
    expect(await Promise.all([first, second, third])).toEqual([1, 'second', 1]);
    await settle();
    expect(calls.map((call) => call.keys)).toEqual([['a'], ['a']]);
    calls[1]!.answer({ a: 2 });
    expect(await later).toBe(2);
    expect(seen).toEqual([['a', 1], ['a', 2]]);
  });

  it('reads at most maxPerRound keys at once, the rest in the next round', async () => {
    const { calls, read } = controlledRead();
    const { reads } = rounds(read);
    for (const key of ['a', 'b', 'c', 'd']) reads.schedule(key);
    await settle();
    calls[0]!.answer({});
    await settle();
    expect(calls.map((call) => call.keys)).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('skips a key nobody waits for once it is no longer wanted', async () => {
    const { calls, read } = controlledRead();
    const { reads } = rounds(read, (key) => key !== 'gone');
    reads.schedule('gone');
    await settle();
    expect(calls).toHaveLength(0);
    const kept = reads.next('gone');
    await settle();
    calls[0]!.answer({ gone: 7 });
    expect(await kept).toBe(7);
  });

  it('rejects the waiters of a failed round, tells onFailed, and goes on with the next', async () => {
    const { calls, read } = controlledRead();
    const { reads, failed } = rounds(read);
    const doomed = reads.next('a');
    await settle();
    calls[0]!.fail(new Error('PostgreSQL is away'));
    await expect(doomed).rejects.toThrow('PostgreSQL is away');
    expect(failed).toEqual([['a']]);
    const again = reads.next('a');
    await settle();
    calls[1]!.answer({ a: 3 });
    expect(await again).toBe(3);
  });
});
