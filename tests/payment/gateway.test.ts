import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { eq, sql } from 'drizzle-orm';
import { createMockGateway } from '../../src/payment/mock-gateway.ts';
import { gatewayCharges } from '../../src/shared/db/schema.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase('gateway');
});
afterAll(() => tdb.drop());

const noSleep = async () => {};
const chargesFor = (key: string) => tdb.db.select().from(gatewayCharges).where(eq(gatewayCharges.idempotencyKey, key));

describe('the mock payment gateway', () => {
  it('charges once per idempotency key, however often and however concurrently it is called', async () => {
    const gateway = createMockGateway({ db: tdb.db, settings: { latencyMs: 0, errorRate: 0, declineRate: 0 }, sleep: noSleep });
    const results = await Promise.all(Array.from({ length: 8 }, () => gateway.charge({ orderId: 'order-1', amountCents: 1250 })));
    expect(new Set(results.map((r) => r.chargeId)).size).toBe(1);
    expect(results[0]!.status).toBe('succeeded');
    const rows = await chargesFor('order-1');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ amountCents: 1250, status: 'succeeded' });
  });

  it('declines at the decline rate, and keeps answering declined for that key', async () => {
    const settings = { latencyMs: 0, errorRate: 0, declineRate: 1 };
    const gateway = createMockGateway({ db: tdb.db, settings, sleep: noSleep });
    const first = await gateway.charge({ orderId: 'order-2', amountCents: 500 });
    expect(first.status).toBe('declined');
    settings.declineRate = 0;
    expect(await gateway.charge({ orderId: 'order-2', amountCents: 500 })).toEqual(first);
  });

  it('fails every call at error rate 1: before charging (503) or after (a timeout), never charging twice', async () => {
    const settings = { latencyMs: 0, errorRate: 1, declineRate: 0 };
    let roll = 0.25;
    const gateway = createMockGateway({ db: tdb.db, settings, sleep: noSleep, random: () => roll });
    // A roll under errorRate / 2 fails before anything is charged.
    await expect(gateway.charge({ orderId: 'order-3', amountCents: 700 })).rejects.toThrow('503');
    expect(await chargesFor('order-3')).toHaveLength(0);
    // A roll above it charges, then the answer is lost.
    roll = 0.75;
    for (let i = 0; i < 5; i++) {
      await expect(gateway.charge({ orderId: 'order-3', amountCents: 700 })).rejects.toThrow('timed out');
    }
    expect(await chargesFor('order-3')).toHaveLength(1);
    settings.errorRate = 0;
    const retried = await gateway.charge({ orderId: 'order-3', amountCents: 700 });
    expect(retried.chargeId).toBe((await chargesFor('order-3'))[0]!.id);
  });

  it('records the charges of calls made together in one transaction, each call answered with its own key', async () => {
    const gateway = createMockGateway({ db: tdb.db, settings: { latencyMs: 0, errorRate: 0, declineRate: 0 }, sleep: noSleep });
    const before = await gateway.charge({ orderId: 'batch-0', amountCents: 100 });
    const keys = Array.from({ length: 10 }, (_, i) => `batch-${i}`);
    // A batch's calls, as the payment handler makes them: concurrently, one key twice, one charged before.
    const results = await Promise.all([...keys, 'batch-3'].map((key, i) => gateway.charge({ orderId: key, amountCents: 100 + i })));
    const rows = await tdb.db.execute<{ key: string; id: string; amount: number; tx: string }>(
      sql`select idempotency_key as key, id, amount_cents as amount, xmin::text as tx from gateway_charges where idempotency_key like 'batch-%'`,
    );
    expect(rows).toHaveLength(10);
    const byKey = new Map(rows.map((row) => [row.key, row]));
    [...keys, 'batch-3'].forEach((key, i) => expect(results[i]!.chargeId).toBe(byKey.get(key)!.id));
    expect(results[0]).toEqual(before);
    expect(byKey.get('batch-3')!.amount).toBe(103);
    // The nine new charges: one statement, one transaction.
    expect(new Set(rows.filter((row) => row.key !== 'batch-0').map((row) => row.tx)).size).toBe(1);
  });

  it('charges each key once when two workers charge the same keys at once, in opposite orders', async () => {
    const settings = { latencyMs: 0, errorRate: 0, declineRate: 0.5 };
    const [a, b] = [createMockGateway({ db: tdb.db, settings, sleep: noSleep }), createMockGateway({ db: tdb.db, settings, sleep: noSleep })];
    const keys = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    const [fromA, fromB] = await Promise.all([
      Promise.all(keys.map((key) => a.charge({ orderId: key, amountCents: 100 }))),
      Promise.all(keys.toReversed().map((key) => b.charge({ orderId: key, amountCents: 100 }))),
    ]);
    expect(fromA).toEqual(fromB.toReversed());
    const [count] = await tdb.db.execute<{ n: number; keys: number }>(
      sql`select count(*)::int as n, count(distinct idempotency_key)::int as keys from gateway_charges where idempotency_key like 'race-%'`,
    );
    expect(count).toEqual({ n: 40, keys: 40 });
  });

  it('takes about the configured latency', async () => {
    const waits: number[] = [];
    const gateway = createMockGateway({
      db: tdb.db,
      settings: { latencyMs: 100, errorRate: 0, declineRate: 0 },
      sleep: async (ms) => void waits.push(ms),
      random: () => 0.5,
    });
    await gateway.charge({ orderId: 'order-4', amountCents: 100 });
    expect(waits).toEqual([100]);
  });
});
