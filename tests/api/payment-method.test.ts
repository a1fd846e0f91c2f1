import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { createTestApp, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase('payment_method');
  await seedMenu(tdb.db);
});
afterAll(() => tdb.drop());

const order = { items: [{ menuItemId: 1, quantity: 1 }], customerEmail: 'ada@example.com' };

async function storedMethod(id: string) {
  const [row] = await tdb.db.$client`select payment_method_id from orders where id = ${id}`;
  return row!.payment_method_id as string | null;
}

describe('POST /orders paymentMethodId', () => {
  it('keeps the card the client named, and none when it named none (a test key charges the test Visa)', async () => {
    const { app } = createTestApp(tdb.db);
    const named = await app.handle(postJson('/orders', { ...order, paymentMethodId: 'pm_card_chargeDeclined' }));
    expect(named.status).toBe(201);
    expect(await storedMethod((await readJson(named)).id)).toBe('pm_card_chargeDeclined');
    const unnamed = await app.handle(postJson('/orders', order));
    expect(unnamed.status).toBe(201);
    expect(await storedMethod((await readJson(unnamed)).id)).toBeNull();
  });

  it('refuses what is not a PaymentMethod id with 422', async () => {
    const { app } = createTestApp(tdb.db);
    for (const paymentMethodId of ['card_123', 'pm_', 'pm_a b', 42, '']) {
      const res = await app.handle(postJson('/orders', { ...order, paymentMethodId }));
      expect(res.status).toBe(422);
      expect((await readJson(res)).error.code).toBe('validation_failed');
    }
  });

  it('requires one with a live key, before anything is written', async () => {
    const { app } = createTestApp(tdb.db, { env: { STRIPE_SECRET_KEY: 'sk_live_abc', STRIPE_WEBHOOK_SECRET: 'whsec_live_endpoint' } });
    const count = async () => (await tdb.db.$client<{ n: number }[]>`select count(*)::int as n from orders`)[0]!.n;
    const before = await count();
    const res = await app.handle(postJson('/orders', order));
    expect(res.status).toBe(422);
    expect((await readJson(res)).error.code).toBe('payment_method_required');
    expect(await count()).toBe(before);
    expect((await app.handle(postJson('/orders', { ...order, paymentMethodId: 'pm_1Qabc' }))).status).toBe(201);
  });

  it('treats a different card under the same Idempotency-Key as a different request', async () => {
    const { app } = createTestApp(tdb.db);
    const headers = { 'idempotency-key': `card-${crypto.randomUUID()}` };
    expect((await app.handle(postJson('/orders', { ...order, paymentMethodId: 'pm_card_visa' }, headers))).status).toBe(201);
    const replay = await app.handle(postJson('/orders', { ...order, paymentMethodId: 'pm_card_visa' }, headers));
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const other = await app.handle(postJson('/orders', { ...order, paymentMethodId: 'pm_card_mastercard' }, headers));
    expect(other.status).toBe(422);
    expect((await readJson(other)).error.code).toBe('idempotency_key_reused');
  });
});
