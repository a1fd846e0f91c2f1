import { describe, expect, it } from 'bun:test';
import { PoisonMessage } from '../../src/shared/streams/poison-message.ts';
import { Events } from '../../src/shared/pipeline/events.ts';

const orderId = '01a212c4-2d93-76bc-b31b-849e65fceaf5';
const placed = Events.orderPlaced.create(
  { orderId, customerEmail: 'ada@example.com', totalCents: 2875, items: [{ menuItemId: 1, quantity: 2, unitPriceCents: 1250 }] },
  'req-1',
);

describe('event codec', () => {
  it('writes flat, readable stream fields: plain values, JSON only for nested ones', () => {
    expect(Events.orderPlaced.toFields(placed)).toEqual({
      eventId: placed.eventId,
      type: 'OrderPlaced',
      occurredAt: placed.occurredAt,
      requestId: 'req-1',
      orderId,
      customerEmail: 'ada@example.com',
      totalCents: '2875',
      items: '[{"menuItemId":1,"quantity":2,"unitPriceCents":1250}]',
    });
  });

  it('reads back exactly the event it wrote', () => {
    expect(Events.orderPlaced.fromFields(Events.orderPlaced.toFields(placed))).toEqual(placed);
    const completed = Events.paymentCompleted.create(
      { orderId, customerEmail: 'ada@example.com', totalCents: 2875, outcome: 'failed', failureReason: 'card_declined', attempts: 2 },
      'req-1',
    );
    expect(Events.paymentCompleted.fromFields(Events.paymentCompleted.toFields(completed))).toEqual(completed);
  });

  it('refuses to create an invalid event', () => {
    expect(() => Events.orderPlaced.create({ ...placed.payload, items: [] }, 'req-1')).toThrow(PoisonMessage);
  });

  describe('rejects a malformed entry as poison, naming the problem', () => {
    const good = Events.orderPlaced.toFields(placed);
    const cases: [string, Record<string, string>, RegExp][] = [
      ['no fields at all', {}, /OrderPlaced event invalid/],
      ['wrong type', { ...good, type: 'PaymentCompleted' }, /\/type/],
      ['total not a number', { ...good, totalCents: 'lots' }, /\/payload\/totalCents/],
      ['negative total', { ...good, totalCents: '-5' }, /\/payload\/totalCents/],
      ['items not JSON', { ...good, items: '[{oops' }, /\/payload\/items/],
      ['order id not a UUID', { ...good, orderId: '42' }, /\/payload\/orderId/],
      ['missing request id', Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'requestId')), /\/requestId/],
    ];
    for (const [name, fields, reason] of cases) {
      it(name, () => {
        expect(() => Events.orderPlaced.fromFields(fields)).toThrow(reason);
      });
    }
  });
});
