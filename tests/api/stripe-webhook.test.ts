import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import Stripe from 'stripe';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { BASE, createTestApp, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

const SECRET = 'whsec_test_webhook_secret';
let tdb: TestDatabase;
let app: ReturnType<typeof createTestApp>['app'];

beforeAll(async () => {
  tdb = await createTestDatabase('stripe_webhook');
  await seedMenu(tdb.db);
  app = createTestApp(tdb.db, { env: { STRIPE_WEBHOOK_SECRET: SECRET } }).app;
});
afterAll(() => tdb.drop());

/** An order with a recorded intent, as the payment worker leaves it after step 2 (recorded, not yet confirmed). */
async function orderWithIntent(intentId: string) {
  const res = await app.handle(postJson('/orders', { items: [{ menuItemId: 1, quantity: 1 }], customerEmail: 'ada@example.com' }));
  const { id } = await readJson(res);
  await tdb.db.$client`insert into payment_intents (order_id, intent_id, status) values (${id}, ${intentId}, 'requires_confirmation')`;
  return id as string;
}

function intentEvent(type: string, intent: Record<string, unknown>, id = `evt_${crypto.randomUUID().replaceAll('-', '')}`) {
  return JSON.stringify({ id, object: 'event', type, api_version: '2025-01-27', created: Math.floor(Date.now() / 1000), livemode: false, data: { object: { object: 'payment_intent', last_payment_error: null, latest_charge: null, cancellation_reason: null, ...intent } } });
}

/** Sends `payload` signed the way Stripe signs it (the SDK's own helper), or with the header given. */
async function deliver(payload: string, { secret = SECRET, header }: { secret?: string; header?: string | null } = {}) {
  const signature = header === undefined ? await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret }) : header;
  return app.handle(
    new Request(`${BASE}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'stripe-signature': signature }) },
      body: payload,
    }),
  );
}

async function outcomeOf(orderId: string) {
  const rows = await tdb.db.$client<{ status: string; outcome: string | null; source: string | null; charge_id: string | null; failure_reason: string | null; events: number }[]>`
    select o.status::text, p.outcome::text, p.source, p.charge_id, p.failure_reason,
      (select count(*)::int from outbox x where x.order_id = o.id and x.event_type = 'PaymentCompleted') as events
    from orders o left join payment_attempts p on p.order_id = o.id where o.id = ${orderId}`;
  return rows[0]!;
}

describe('POST /webhooks/stripe', () => {
  it('records a succeeded intent once, and a redelivered event changes nothing', async () => {
    const orderId = await orderWithIntent('pi_webhook_ok');
    const payload = intentEvent('payment_intent.succeeded', { id: 'pi_webhook_ok', status: 'succeeded', latest_charge: 'ch_webhook_ok', metadata: { order_id: orderId } });
    const first = await deliver(payload);
    expect(first.status).toBe(200);
    expect(await readJson(first)).toEqual({ received: true, result: 'recorded' });
    expect(await outcomeOf(orderId)).toEqual({ status: 'paid', outcome: 'succeeded', source: 'webhook', charge_id: 'ch_webhook_ok', failure_reason: null, events: 1 });

    expect(await readJson(await deliver(payload))).toEqual({ received: true, result: 'duplicate' });
    // Another event with the same outcome (Stripe may send several) finds it recorded.
    const again = intentEvent('payment_intent.succeeded', { id: 'pi_webhook_ok', status: 'succeeded', latest_charge: 'ch_webhook_ok', metadata: { order_id: orderId } });
    expect(await readJson(await deliver(again))).toEqual({ received: true, result: 'known' });
    expect((await outcomeOf(orderId)).events).toBe(1);
    const exposition = await (await app.handle(new Request(`${BASE}/metrics`))).text();
    for (const result of ['recorded', 'duplicate', 'known']) expect(exposition).toMatch(new RegExp(`payment_provider_webhooks_total\\{result="${result}"[^}]*\\} 1`));
  });

  it('records a decline with its decline code', async () => {
    const orderId = await orderWithIntent('pi_webhook_declined');
    const payload = intentEvent('payment_intent.payment_failed', {
      id: 'pi_webhook_declined',
      status: 'requires_payment_method',
      last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' },
      metadata: { order_id: orderId },
    });
    expect(await readJson(await deliver(payload))).toEqual({ received: true, result: 'recorded' });
    expect(await outcomeOf(orderId)).toMatchObject({ status: 'payment_failed', outcome: 'failed', source: 'webhook', failure_reason: 'insufficient_funds' });
  });

  it('leaves an order alone for processing, for an intent that is not its recorded one, and for unknown types and orders', async () => {
    const orderId = await orderWithIntent('pi_webhook_recorded');
    const processing = intentEvent('payment_intent.processing', { id: 'pi_webhook_recorded', status: 'processing', metadata: { order_id: orderId } });
    expect(await readJson(await deliver(processing))).toEqual({ received: true, result: 'pending' });
    const [intent] = await tdb.db.$client`select status from payment_intents where order_id = ${orderId}`;
    expect(intent!.status).toBe('processing');

    // A leftover intent of the same order (never to be confirmed) cannot decide it.
    const leftover = intentEvent('payment_intent.succeeded', { id: 'pi_webhook_leftover', status: 'succeeded', latest_charge: 'ch_x', metadata: { order_id: orderId } });
    expect(await readJson(await deliver(leftover))).toEqual({ received: true, result: 'ignored' });
    const foreign = intentEvent('payment_intent.succeeded', { id: 'pi_other_system', status: 'succeeded', metadata: { order_id: 'not-a-uuid' } });
    expect(await readJson(await deliver(foreign))).toEqual({ received: true, result: 'ignored' });
    const unknownType = intentEvent('charge.refunded', { id: 'pi_webhook_recorded', status: 'succeeded', metadata: { order_id: orderId } });
    expect(await readJson(await deliver(unknownType))).toEqual({ received: true, result: 'ignored' });
    expect(await outcomeOf(orderId)).toMatchObject({ status: 'processing', outcome: null, events: 0 });
  });

  it('refuses a missing, wrong or stale signature with 400 and changes nothing', async () => {
    const orderId = await orderWithIntent('pi_webhook_forged');
    const payload = intentEvent('payment_intent.succeeded', { id: 'pi_webhook_forged', status: 'succeeded', latest_charge: 'ch_forged', metadata: { order_id: orderId } });
    const stale = await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: SECRET, timestamp: Math.floor(Date.now() / 1000) - 600 });
    for (const attempt of [{ header: null }, { secret: 'whsec_somebody_else' }, { header: stale }, { header: 't=1,v1=00' }]) {
      const res = await deliver(payload, attempt);
      expect(res.status).toBe(400);
      const body = await readJson(res);
      expect(body.error.code).toBe('invalid_webhook_signature');
      expect(typeof body.error.message).toBe('string');
    }
    // A body changed after signing fails too: the signature covers the raw bytes.
    const signed = await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: SECRET });
    expect((await deliver(payload.replace('ch_forged', 'ch_forgeD'), { header: signed })).status).toBe(400);
    expect(await outcomeOf(orderId)).toMatchObject({ status: 'processing', outcome: null, events: 0 });
  });

  it('answers a signed body that is not an event with 200 ignored, never a 5xx', async () => {
    for (const payload of ['{}', '{"type":"payment_intent.succeeded","data":{"object":{}}}', '{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"metadata":{"order_id":"00000000-0000-7000-8000-000000000000"}}}}']) {
      const res = await deliver(payload);
      expect(res.status).toBe(200);
    }
    const notJson = await deliver('not json');
    expect(notJson.status).toBe(400);
  });
});
