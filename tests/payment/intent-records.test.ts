import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { createIntentRecords } from '../../src/payment/intent-records.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase('intent_records');
});
afterAll(async () => {
  await tdb?.drop();
});

async function newOrder(): Promise<string> {
  const id = Bun.randomUUIDv7();
  await tdb.sql`insert into orders (id, customer_email, total_cents, request_id) values (${id}, 'ada@example.com', 2500, 'req-test')`;
  return id;
}

describe('the record of each order intent', () => {
  // Two workers charging one order at once both get the same intent back from the provider (one key) and
  // record it at the same moment. ON CONFLICT (order_id) only arbitrates its own index: the second insert
  // used to fail on the intent id's unique index instead (23505), and the attempt with it.
  it('records the same intent from several attempts at once, each told it is the one recorded', async () => {
    const intents = createIntentRecords(tdb.sql);
    for (let round = 0; round < 40; round++) {
      const orderId = await newOrder();
      const intentId = `pi_${orderId.replaceAll('-', '')}`;
      const results = await Promise.all([1, 2, 3, 4].map(() => intents.record(orderId, intentId, 'requires_confirmation')));
      expect(results).toEqual([intentId, intentId, intentId, intentId]);
    }
    const [row] = await tdb.sql<{ n: number }[]>`select count(*)::int as n from payment_intents`;
    expect(row!.n).toBe(40);
  });

  it('keeps the first intent recorded when another attempt brings a different one at the same moment', async () => {
    const intents = createIntentRecords(tdb.sql);
    for (let round = 0; round < 20; round++) {
      const orderId = await newOrder();
      const ids = ['a', 'b', 'c'].map((s) => `pi_${s}_${orderId.replaceAll('-', '')}`);
      const results = await Promise.all(ids.map((id) => intents.record(orderId, id, 'requires_confirmation')));
      const [row] = await tdb.sql<{ intent_id: string }[]>`select intent_id from payment_intents where order_id = ${orderId}`;
      expect(new Set(results)).toEqual(new Set([row!.intent_id]));
    }
  });
});
