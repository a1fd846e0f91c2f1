import { describe, expect, it } from 'bun:test';
import { consumerLabel, MASK, maskDeadLetter, maskEmail, maskEmailsIn, maskFields } from '../../src/shared/ops/masking.ts';

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

describe('masking dead-letter fields', () => {
  it('keeps ids, type and time, masks the address and replaces every other value', () => {
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
    expect(maskFields(fields)).toEqual({
      eventId: EVENT_ID,
      type: 'PaymentCompleted',
      occurredAt: '2026-11-25T12:00:00.000Z',
      requestId: MASK,
      orderId: ORDER_ID,
      customerEmail: 'a***@example.com',
      totalCents: MASK,
      outcome: MASK,
      failureReason: MASK,
      attempts: MASK,
    });
  });

  it('masks a safe field whose value is not what we write there', () => {
    expect(maskFields({ orderId: 'ada@example.com', type: 'Order Placed <x>', eventId: '1' })).toEqual({ orderId: MASK, type: MASK, eventId: MASK });
  });

  it('renames field names that could themselves be data', () => {
    expect(maskFields({ 'ada@example.com': 'x', 'two words': 'y', unparseable: '{"customerEmail":"ada@example.com"' })).toEqual({
      '(field 1)': MASK,
      '(field 2)': MASK,
      unparseable: MASK,
    });
  });
});

describe('masking a dead letter', () => {
  it('labels its consumer, masks addresses in its reason and reduces its fields, keeping ids and counts', () => {
    const letter = {
      id: '1795614405774-3',
      deadLetterStream: 'payment.dlq',
      partition: null,
      deadLetteredAt: '2026-11-25T12:00:00.000Z',
      originalStream: 'orders.placed',
      originalId: '1795614405000-0',
      group: 'payment-service',
      consumer: 'vm-9985-4242',
      error: 'mail to ada@example.com bounced',
      deliveries: 5,
      fields: { orderId: ORDER_ID, customerEmail: 'ada@example.com' },
    };
    expect(maskDeadLetter(letter, 'key-1')).toEqual({
      ...letter,
      consumer: consumerLabel('vm-9985-4242', 'key-1'),
      error: 'mail to a***@example.com bounced',
      fields: { orderId: ORDER_ID, customerEmail: 'a***@example.com' },
    });
  });
});
