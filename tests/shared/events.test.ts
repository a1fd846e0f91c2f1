import { describe, expect, it } from 'bun:test';
import type { TObject } from '@sinclair/typebox';
import { PoisonMessage } from '../../src/shared/streams/poison-message.ts';
import { Events } from '../../src/shared/pipeline/events.ts';

const orderId = '01a212c4-2d93-76bc-b31b-849e65fceaf5';
const placed = Events.orderPlaced.create({ orderId }, 'req-1');
const completed = Events.paymentCompleted.create({ orderId, outcome: 'failed', failureReason: 'card_declined', attempts: 2 }, 'req-1');

describe('event codec', () => {
  it('writes flat, readable stream fields: envelope and payload side by side, numbers as decimals', () => {
    expect(Events.orderPlaced.toFields(placed)).toEqual({ eventId: placed.eventId, type: 'OrderPlaced', occurredAt: placed.occurredAt, requestId: 'req-1', orderId });
    expect(Events.paymentCompleted.toFields(completed)).toEqual({
      eventId: completed.eventId,
      type: 'PaymentCompleted',
      occurredAt: completed.occurredAt,
      requestId: 'req-1',
      orderId,
      outcome: 'failed',
      failureReason: 'card_declined',
      attempts: '2',
    });
  });

  it('reads back exactly the event it wrote', () => {
    expect(Events.orderPlaced.fromFields(Events.orderPlaced.toFields(placed))).toEqual(placed);
    expect(Events.paymentCompleted.fromFields(Events.paymentCompleted.toFields(completed))).toEqual(completed);
  });

  it('carries no customer data: the order id names the order, PostgreSQL holds the rest', () => {
    expect(Object.keys((Events.orderPlaced.schema.properties.payload as TObject).properties)).toEqual(['orderId']);
    expect(Object.keys((Events.paymentCompleted.schema.properties.payload as TObject).properties).toSorted()).toEqual(['attempts', 'chargeId', 'failureReason', 'orderId', 'outcome']);
  });

  it('refuses to create an invalid event', () => {
    expect(() => Events.orderPlaced.create({ orderId: 'not-a-uuid' }, 'req-1')).toThrow(PoisonMessage);
    expect(() => Events.paymentCompleted.create({ ...completed.payload, attempts: 0 }, 'req-1')).toThrow(PoisonMessage);
  });

  describe('rejects a malformed entry as poison, naming the problem', () => {
    const good = Events.paymentCompleted.toFields(completed);
    const cases: [string, Record<string, string>, RegExp][] = [
      ['no fields at all', {}, /PaymentCompleted event invalid/],
      ['wrong type', { ...good, type: 'OrderPlaced' }, /\/type/],
      ['attempts not a number', { ...good, attempts: 'lots' }, /\/payload\/attempts/],
      ['attempts below one', { ...good, attempts: '0' }, /\/payload\/attempts/],
      ['unknown outcome', { ...good, outcome: 'maybe' }, /\/payload\/outcome/],
      ['order id not a UUID', { ...good, orderId: '42' }, /\/payload\/orderId/],
      ['missing request id', Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'requestId')), /\/requestId/],
    ];
    for (const [name, fields, reason] of cases) {
      it(name, () => {
        expect(() => Events.paymentCompleted.fromFields(fields)).toThrow(reason);
      });
    }
  });
});
