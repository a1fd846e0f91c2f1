import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { keyForOrder, partitionKeys, partitionOf, streamKey } from '../../src/shared/pipeline/topology.ts';

describe('partitioning by order id', () => {
  it('puts every order on a partition in range, the same one every time and in every process', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 1, max: 1024 }), (orderId, count) => {
        const partition = partitionOf(orderId, count);
        expect(Number.isInteger(partition)).toBe(true);
        expect(partition).toBeGreaterThanOrEqual(0);
        expect(partition).toBeLessThan(count);
        expect(partitionOf(orderId, count)).toBe(partition);
      }),
    );
  });

  it('sends all of one order\'s events to the same partition of each stream, and its keys share one hash tag', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 2, max: 64 }), fc.constantFrom('', 'prod:', 'test:x:'), (orderId, count, prefix) => {
        const placed = keyForOrder(prefix, 'orders.placed', orderId, count);
        const completed = keyForOrder(prefix, 'payment.completed', orderId, count);
        const tag = (key: string) => key.match(/\{([^}]*)\}/)?.[1];
        expect(tag(placed)).toBe(String(partitionOf(orderId, count)));
        expect(tag(completed)).toBe(tag(placed));
        expect(tag(streamKey(prefix, 'payment.dlq', partitionOf(orderId, count)))).toBe(tag(placed));
      }),
    );
  });

  it('spreads orders over the partitions (UUIDv7 ids, which share their time prefix)', () => {
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 6000; i++) counts[partitionOf(Bun.randomUUIDv7(), 6)]++;
    for (const n of counts) expect(n).toBeGreaterThan(700);
  });

  it('keeps the plain stream names with one partition', () => {
    expect(partitionKeys('p:', 'orders.placed', 1)).toEqual([{ partition: null, key: 'p:orders.placed' }]);
    expect(keyForOrder('p:', 'orders.placed', crypto.randomUUID(), 1)).toBe('p:orders.placed');
    expect(partitionKeys('p:', 'orders.placed', 3).map((k) => k.key)).toEqual(['p:orders.placed:{0}', 'p:orders.placed:{1}', 'p:orders.placed:{2}']);
    expect(partitionKeys('p:', 'orders.placed', 6, [1, 4]).map((k) => k.partition)).toEqual([1, 4]);
  });
});
