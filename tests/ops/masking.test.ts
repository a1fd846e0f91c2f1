import { describe, expect, it } from 'bun:test';
import { consumerLabel, MASK, maskDeadLetter, maskEmail, maskEmailsIn, maskFields, maskOrderIdsIn, orderLabel } from '../../src/shared/ops/masking.ts';

const ORDER_ID = '0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11';
const EVENT_ID = '0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e12';

describe('masking an e-mail address', () => {
  it('keeps the first letter and the domain', () => {
    expect(maskEmail('ada@example.com')).toBe('a***@example.com');
    expect(maskEmail('a@example.com')).toBe('a***@example.com');
  });

  it('masks the whole value when it is not an address', () => {
    expect(maskEmail('no-at-sign')).toBe(MASK);
    expect(maskEmail('@example.com')).toBe(MASK);
    expect(maskEmail('')).toBe(MASK);
  });

  it('masks every address inside free text', () => {
    expect(maskEmailsIn('mail to ada@example.com and (bob.x@example.org) bounced')).toBe('mail to a***@example.com and (b***@example.org) bounced');
    expect(maskEmailsIn(`order ${ORDER_ID} does not exist`)).toBe(`order ${ORDER_ID} does not exist`);
  });
});

describe('consumer labels', () => {
  it('are stable for one name and key, and differ between names and between keys', () => {
    const label = consumerLabel('vm-9985-4242', 'key-1');
    expect(label).toMatch(/^consumer-[0-9a-f]{10}$/);
    expect(consumerLabel('vm-9985-4242', 'key-1')).toBe(label);
    expect(consumerLabel('vm-9985-4243', 'key-1')).not.toBe(label);
    expect(consumerLabel('vm-9985-4242', 'key-2')).not.toBe(label);
    expect(label).not.toContain('9985');
  });

  it('leave an empty name empty', () => {
    expect(consumerLabel('', 'key-1')).toBe('');
  });
});

describe('order labels', () => {
  it('are stable for one id and key, in either case, and differ between ids and between keys', () => {
    const label = orderLabel(ORDER_ID, 'key-1');
    expect(label).toMatch(/^ord_[0-9a-f]{12}$/);
    expect(orderLabel(ORDER_ID, 'key-1')).toBe(label);
    expect(orderLabel(ORDER_ID.toUpperCase(), 'key-1')).toBe(label);
    expect(orderLabel(EVENT_ID, 'key-1')).not.toBe(label);
    expect(orderLabel(ORDER_ID, 'key-2')).not.toBe(label);
  });

  it('carry no part of the id', () => {
    const label = orderLabel(ORDER_ID, 'key-1');
    for (const part of ORDER_ID.split('-')) expect(label).not.toContain(part);
  });

  it('replace every order id inside free text, glued to other characters or not', () => {
    const label = orderLabel(ORDER_ID, 'key-1');
    expect(maskOrderIdsIn(`order ${ORDER_ID} does not exist`, 'key-1')).toBe(`order ${label} does not exist`);
    expect(maskOrderIdsIn(`Key (order_id)=(${ORDER_ID.toUpperCase()}) already exists; x${ORDER_ID}y`, 'key-1')).toBe(
      `Key (order_id)=(${label}) already exists; x${label}y`,
    );
    expect(maskOrderIdsIn('gateway timed out after 3 attempts', 'key-1')).toBe('gateway timed out after 3 attempts');
  });
});

describe('masking dead-letter fields', () => {
  it('keeps the event id, type and time, labels the order id, masks the address and replaces every other value', () => {
    const fields = {
      eventId: EVENT_ID,
      type: 'PaymentCompleted',
      occurredAt: '2026-11-25T12:00:00.000Z',
      requestId: 'client-chosen',
      orderId: ORDER_ID,
      customerEmail: 'ada@example.com',
      totalCents: '2500',
      outcome: 'failed',
      failureReason: 'card_declined',
      attempts: '2',
    };
    expect(maskFields(fields, 'key-1')).toEqual({
      eventId: EVENT_ID,
      type: 'PaymentCompleted',
      occurredAt: '2026-11-25T12:00:00.000Z',
      requestId: MASK,
      orderId: orderLabel(ORDER_ID, 'key-1'),
      customerEmail: 'a***@example.com',
      totalCents: MASK,
      outcome: MASK,
      failureReason: MASK,
      attempts: MASK,
    });
  });

  it('masks a safe field whose value is not what we write there', () => {
    expect(maskFields({ orderId: 'ada@example.com', type: 'Order Placed <x>', eventId: '1' }, 'key-1')).toEqual({ orderId: MASK, type: MASK, eventId: MASK });
  });

  it('treats a field named like an Object built-in as any other field', () => {
    expect(maskFields({ constructor: 'x', toString: ORDER_ID }, 'key-1')).toEqual({ constructor: MASK, toString: MASK });
  });

  it('renames field names that could themselves be data', () => {
    expect(maskFields({ 'ada@example.com': 'x', 'two words': 'y', unparseable: '{"customerEmail":"ada@example.com"' }, 'key-1')).toEqual({
      '(field 1)': MASK,
      '(field 2)': MASK,
      unparseable: MASK,
    });
  });
});

describe('masking a dead letter', () => {
  it('labels its consumer and order, masks addresses in its reason and reduces its fields, keeping stream ids and counts', () => {
    const letter = {
      id: '1795614405774-3',
      deadLetterStream: 'payment.dlq',
      partition: null,
      deadLetteredAt: '2026-11-25T12:00:00.000Z',
      originalStream: 'orders.placed',
      originalId: '1795614405000-0',
      group: 'payment-service',
      consumer: 'vm-9985-4242',
      error: `mail to ada@example.com about order ${ORDER_ID} bounced`,
      deliveries: 5,
      fields: { orderId: ORDER_ID, customerEmail: 'ada@example.com' },
    };
    expect(maskDeadLetter(letter, 'key-1')).toEqual({
      ...letter,
      consumer: consumerLabel('vm-9985-4242', 'key-1'),
      error: `mail to a***@example.com about order ${orderLabel(ORDER_ID, 'key-1')} bounced`,
      fields: { orderId: orderLabel(ORDER_ID, 'key-1'), customerEmail: 'a***@example.com' },
    });
  });
});
