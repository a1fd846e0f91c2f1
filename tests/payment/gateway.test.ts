import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { eq } from 'drizzle-orm';
import { createMockGateway } from '../../src/payment/gateway.ts';
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
    const results = await Promise.all(Array.from({ length: 8 }, () => gateway.charge({ idempotencyKey: 'order-1', amountCents: 1250 })));
    expect(new Set(results.map((r) => r.chargeId)).size).toBe(1);
    expect(results[0]!.status).toBe('succeeded');
    const rows = await chargesFor('order-1');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ amountCents: 1250, status: 'succeeded' });
  });

  it('declines at the decline rate, and keeps answering declined for that key', async () => {
    const settings = { latencyMs: 0, errorRate: 0, declineRate: 1 };
    const gateway = createMockGateway({ db: tdb.db, settings, sleep: noSleep });
    const first = await gateway.charge({ idempotencyKey: 'order-2', amountCents: 500 });
    expect(first.status).toBe('declined');
    settings.declineRate = 0;
    expect(await gateway.charge({ idempotencyKey: 'order-2', amountCents: 500 })).toEqual(first);
  });

  it('fails every call at error rate 1: before charging (503) or after (a timeout), never charging twice', async () => {
    const settings = { latencyMs: 0, errorRate: 1, declineRate: 0 };
    let roll = 0.25;
    const gateway = createMockGateway({ db: tdb.db, settings, sleep: noSleep, random: () => roll });
    // A roll under errorRate / 2 fails before anything is charged.
    await expect(gateway.charge({ idempotencyKey: 'order-3', amountCents: 700 })).rejects.toThrow('503');
    expect(await chargesFor('order-3')).toHaveLength(0);
    // A roll above it charges, then the answer is lost.
    roll = 0.75;
    for (let i = 0; i < 5; i++) {
      await expect(gateway.charge({ idempotencyKey: 'order-3', amountCents: 700 })).rejects.toThrow('timed out');
    }
    expect(await chargesFor('order-3')).toHaveLength(1);
    settings.errorRate = 0;
    const retried = await gateway.charge({ idempotencyKey: 'order-3', amountCents: 700 });
    expect(retried.chargeId).toBe((await chargesFor('order-3'))[0]!.id);
  });

  it('takes about the configured latency', async () => {
    const waits: number[] = [];
    const gateway = createMockGateway({
      db: tdb.db,
      settings: { latencyMs: 100, errorRate: 0, declineRate: 0 },
      sleep: async (ms) => void waits.push(ms),
      random: () => 0.5,
    });
    await gateway.charge({ idempotencyKey: 'order-4', amountCents: 100 });
    expect(waits).toEqual([100]);
  });
});
