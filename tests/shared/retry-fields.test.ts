import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { PoisonMessage } from '../../src/shared/streams/poison-message.ts';
import { MAX_REASON_CHARS, readRetryFields, RETRY_FIELDS, retryFields, type RetryInfo } from '../../src/shared/streams/retry-fields.ts';
import { delayedRetryKeys, hashedPart } from '../../src/shared/streams/retry-keys.ts';

/** An entry's own fields: any names but the retry ones (and none that would be an object's prototype). */
const ownFields = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 12 }).filter((name) => !name.startsWith('x-retry-') && name !== '__proto__'),
  fc.string({ maxLength: 40 }),
  { maxKeys: 8 },
);

const retryInfo: fc.Arbitrary<RetryInfo> = fc.record({
  group: fc.string({ minLength: 1, maxLength: 20 }),
  attempt: fc.integer({ min: 1, max: 50 }),
  firstFailedAt: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  originalId: fc.tuple(fc.nat(), fc.nat()).map(([ms, seq]) => `${ms}-${seq}`),
  history: fc.array(fc.record({ at: fc.integer({ min: 0, max: 4_000_000_000_000 }), reason: fc.string({ maxLength: 700 }) }), { maxLength: 6 }),
});

describe('retry fields', () => {
  it('read back what was written, and give the consumer the entry fields as they were', () => {
    fc.assert(
      fc.property(ownFields, retryInfo, (own, info) => {
        const read = readRetryFields({ ...own, ...retryFields(info) });
        expect(read.fields).toEqual(own);
        expect(read.retry).toEqual({ ...info, history: info.history.map(({ at, reason }) => ({ at, reason: reason.slice(0, MAX_REASON_CHARS) })) });
      }),
    );
  });

  it('leave an entry that was never retried as it is, without copying it', () => {
    const fields = { orderId: 'o-1', amount: '12' };
    const read = readRetryFields(fields);
    expect(read.retry).toBeUndefined();
    expect(read.fields).toBe(fields);
  });

  it('make retry fields that do not read back a poison message, naming the field', () => {
    const good = retryFields({ group: 'g', attempt: 2, firstFailedAt: 1000, originalId: '1-0', history: [{ at: 1000, reason: 'timeout' }] });
    const broken: [Record<string, string>, string][] = [
      [{ ...good, [RETRY_FIELDS.attempt]: 'two' }, RETRY_FIELDS.attempt],
      [{ ...good, [RETRY_FIELDS.attempt]: '0' }, RETRY_FIELDS.attempt],
      [{ ...good, [RETRY_FIELDS.firstFailedAt]: 'yesterday' }, RETRY_FIELDS.firstFailedAt],
      [{ ...good, [RETRY_FIELDS.history]: '{' }, RETRY_FIELDS.history],
      [{ ...good, [RETRY_FIELDS.history]: '[{"at":"soon"}]' }, RETRY_FIELDS.history],
      [{ [RETRY_FIELDS.attempt]: '1' }, RETRY_FIELDS.group],
      [{ [RETRY_FIELDS.group]: 'g', [RETRY_FIELDS.unreadable]: 'garbage' }, 'could not be read back: garbage'],
    ];
    for (const [fields, named] of broken) {
      expect(() => readRetryFields({ orderId: 'o-1', ...fields })).toThrow(PoisonMessage);
      expect(() => readRetryFields({ orderId: 'o-1', ...fields })).toThrow(named);
    }
  });
});

describe('delayed retry keys', () => {
  it('keep a partitioned stream key whole, hash tag included', () => {
    expect(delayedRetryKeys('p:orders.placed:{3}', 'payment-service')).toEqual({
      due: 'p:orders.placed:{3}:retry:payment-service',
      since: 'p:orders.placed:{3}:retry:payment-service:since',
    });
  });

  it('wrap a stream key without a hash tag in one, so it hashes as the stream does', () => {
    expect(delayedRetryKeys('p:orders.placed', 'payment-service').due).toBe('{p:orders.placed}:retry:payment-service');
    expect(hashedPart('{p:orders.placed}:retry:payment-service')).toBe(hashedPart('p:orders.placed'));
  });

  it('land in the stream slot for any stream key with a hash tag or without a closing brace, any group', () => {
    const text = (minLength: number) => fc.string({ unit: fc.constantFrom('a', 'b', '{', '}', ':'), minLength, maxLength: 12 });
    fc.assert(
      fc.property(text(1), text(0), (stream, group) => {
        fc.pre(hashedPart(stream) !== stream || !stream.includes('}'));
        const keys = delayedRetryKeys(stream, group);
        expect(hashedPart(keys.due)).toBe(hashedPart(stream));
        expect(hashedPart(keys.since)).toBe(hashedPart(stream));
        expect(keys.due).not.toBe(stream);
        expect(keys.since).not.toBe(keys.due);
      }),
    );
  });

  it('hash as Redis Cluster documents: the first {…} with something inside, else the whole key', () => {
    expect(hashedPart('{user1000}.following')).toBe('user1000');
    expect(hashedPart('foo{}{bar}')).toBe('foo{}{bar}');
    expect(hashedPart('foo{{bar}}zap')).toBe('{bar');
    expect(hashedPart('foo{bar}{zap}')).toBe('bar');
    expect(hashedPart('plain')).toBe('plain');
  });
});
