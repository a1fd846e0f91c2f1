import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'bun:test';
import { GatewayTransientError } from '../../src/payment/errors.ts';
import type { ChargeRequest, RecordedIntent } from '../../src/payment/gateway.ts';
import { createIntentRecords } from '../../src/payment/intent-records.ts';
import { createStripeGateway, type ProviderCrashPoint } from '../../src/payment/stripe-gateway.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startSandboxProcess, type SandboxProcess } from '../helpers/stripe-sandbox.ts';
import { waitFor } from '../helpers/wait-for.ts';

// Short, so a key can be seen to expire; the gateway is told the same lifetime, as it would be Stripe's 24 h.
const KEY_TTL_MS = 2000;
let tdb: TestDatabase;
let sandbox: SandboxProcess;

beforeAll(async () => {
  [tdb, sandbox] = await Promise.all([createTestDatabase('stripe_gateway'), startSandboxProcess({ STRIPE_SANDBOX_IDEMPOTENCY_TTL_MS: String(KEY_TTL_MS) })]);
});
afterAll(async () => {
  await sandbox?.stop();
  await tdb?.drop();
});
beforeEach(() => sandbox.setFaults([]));

function gateway({ crash, live = false }: { crash?: (point: ProviderCrashPoint) => void; live?: boolean } = {}) {
  return createStripeGateway({ stripe: sandbox.stripe, intents: createIntentRecords(tdb.sql), currency: 'usd', idempotencyTtlMs: KEY_TTL_MS, live, crash });
}

async function newOrder(amountCents = 2500) {
  const id = Bun.randomUUIDv7();
  const [row] = await tdb.sql<{ created_at: Date }[]>`
    insert into orders (id, customer_email, total_cents, request_id) values (${id}, 'ada@example.com', ${amountCents}, 'req-test') returning created_at`;
  return { orderId: id, amountCents, orderCreatedAt: new Date(row!.created_at) };
}

/** What the payment worker reads back before each attempt. */
async function recorded(orderId: string): Promise<RecordedIntent | null> {
  const [row] = await tdb.sql<{ intent_id: string | null; create_seq: number }[]>`select intent_id, create_seq from payment_intents where order_id = ${orderId}`;
  return row ? { intentId: row.intent_id, createSeq: row.create_seq } : null;
}

/** One attempt, as the worker makes it: with what PostgreSQL holds of the order's intent. */
async function attempt(request: ChargeRequest, g = gateway()) {
  return g.charge({ ...request, intent: await recorded(request.orderId) });
}

/** The order's charges as the provider's records say (its API): succeeded intents, and every intent not cancelled. */
async function providerView(orderId: string) {
  const intents = await sandbox.intentsOf(orderId);
  return { succeeded: intents.filter((i) => i.status === 'succeeded').length, live: intents.filter((i) => i.status !== 'canceled').length, all: intents.length };
}

describe('the Stripe gateway, against the sandbox through the official SDK', () => {
  it('creates the intent, records it before confirming it, and records the charge', async () => {
    const order = await newOrder();
    let recordedAtConfirm: RecordedIntent | null = null;
    const result = await attempt(order, gateway({ crash: (point) => void (point === 'after-confirm' && recorded(order.orderId).then((r) => (recordedAtConfirm = r))) }));
    expect(result).toMatchObject({ status: 'succeeded', source: 'reply' });
    const [intent] = await sandbox.intentsOf(order.orderId);
    expect(intent).toMatchObject({ amount: 2500, currency: 'usd', status: 'succeeded', metadata: { order_id: order.orderId } });
    expect(result.status === 'succeeded' && result.chargeId).toBe(intent!.latest_charge as string);
    await waitFor(() => recordedAtConfirm, { what: 'the record read at the confirm' });
    expect(recordedAtConfirm!.intentId).toBe(intent!.id);
    // Asked again (a redelivery): read, not confirmed again.
    expect(await attempt(order)).toMatchObject({ status: 'succeeded', source: 'read', chargeId: intent!.latest_charge });
    expect(await providerView(order.orderId)).toEqual({ succeeded: 1, live: 1, all: 1 });
  });

  it("ends a declined card's order with Stripe's decline code", async () => {
    for (const [card, reason] of [
      ['pm_card_chargeDeclined', 'generic_decline'],
      ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
      ['pm_card_chargeDeclinedExpiredCard', 'expired_card'],
    ] as const) {
      const order = await newOrder();
      expect(await attempt({ ...order, paymentMethodId: card })).toEqual({ status: 'declined', reason, source: 'reply' });
      // Read again later, the decline is the same answer.
      expect(await attempt({ ...order, paymentMethodId: card })).toEqual({ status: 'declined', reason, source: 'read' });
      expect(await providerView(order.orderId)).toMatchObject({ succeeded: 0, all: 1 });
    }
  });

  // times: 2, because the SDK itself resends once on a reset connection (with the same key), even with its retries off.
  it('asks a create whose reply was lost again under the same key, and gets the same intent', async () => {
    const order = await newOrder();
    await sandbox.setFaults([{ fault: 'drop_after', endpoints: ['create'], times: 2 }]);
    await expect(attempt(order)).rejects.toBeInstanceOf(GatewayTransientError);
    expect(await recorded(order.orderId)).toBeNull();
    expect(await attempt(order)).toMatchObject({ status: 'succeeded' });
    expect(await providerView(order.orderId)).toEqual({ succeeded: 1, live: 1, all: 1 });
  });

  it('after a create answered 500, uses the next key only after finding the intent that create made', async () => {
    const order = await newOrder();
    await sandbox.setFaults([{ fault: 'error_after', endpoints: ['create'], times: 1 }]);
    await expect(attempt(order)).rejects.toBeInstanceOf(GatewayTransientError);
    // The 500 is saved with the key: the same key would answer it again for a day.
    expect(await recorded(order.orderId)).toEqual({ intentId: null, createSeq: 1 });
    expect(await attempt(order)).toMatchObject({ status: 'succeeded' });
    expect(await providerView(order.orderId)).toEqual({ succeeded: 1, live: 1, all: 1 });
  });

  it('after a confirm whose reply was lost, reads the intent and records it, never confirming twice', async () => {
    const order = await newOrder();
    await sandbox.setFaults([{ fault: 'drop_after', endpoints: ['confirm'], times: 2 }]);
    await expect(attempt(order)).rejects.toBeInstanceOf(GatewayTransientError);
    expect(await attempt(order)).toMatchObject({ status: 'succeeded', source: 'read' });
    expect(await providerView(order.orderId)).toEqual({ succeeded: 1, live: 1, all: 1 });
  });

  it('looks the intent up when the key may have expired, instead of making a second chargeable one', async () => {
    const order = await newOrder();
    await sandbox.setFaults([{ fault: 'drop_after', endpoints: ['create'], times: 2 }]);
    await expect(attempt(order)).rejects.toBeInstanceOf(GatewayTransientError);
    // The provider forgets the key; the order is now older than a key lives.
    const forgotten = Date.now() + KEY_TTL_MS + 200;
    await waitFor(() => Date.now() > forgotten, { what: 'the idempotency key to expire', timeoutMs: KEY_TTL_MS * 3 });
    expect(await attempt(order)).toMatchObject({ status: 'succeeded' });
    expect(await providerView(order.orderId)).toEqual({ succeeded: 1, live: 1, all: 1 });
  });

  it("answers pending while the provider is processing, and the outcome once it is decided", async () => {
    const order = await newOrder();
    await sandbox.setFaults([{ fault: 'processing', endpoints: ['confirm'], delayMs: 300 }]);
    const first = await attempt(order);
    expect(first.status).toBe('pending');
    await waitFor(async () => (await sandbox.intentsOf(order.orderId))[0]?.status === 'succeeded', { what: 'the sandbox to finish processing' });
    expect(await attempt(order)).toMatchObject({ status: 'succeeded', source: 'read' });
  });

  it('charges once when two workers charge the same order at the same moment', async () => {
    for (let round = 0; round < 5; round++) {
      const order = await newOrder();
      const results = await Promise.allSettled([attempt(order), attempt(order), attempt(order)]);
      // A loser may have been told the key is in flight (409): transient, tried again later.
      for (const result of results) if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(GatewayTransientError);
      expect(await attempt(order)).toMatchObject({ status: 'succeeded' });
      const view = await providerView(order.orderId);
      expect(view).toMatchObject({ succeeded: 1, live: 1 });
    }
  });

  it("takes a 429's Retry-After into the error the retry schedule honours", async () => {
    const order = await newOrder();
    await sandbox.setFaults([{ fault: 'rate_limit', retryAfterSeconds: 7, times: 1 }]);
    const error = await attempt(order).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayTransientError);
    expect((error as GatewayTransientError).retryAfterMs).toBe(7000);
    expect(await attempt(order)).toMatchObject({ status: 'succeeded' });
  });

  it('with a live key, charges no test card in place of one the order did not name', async () => {
    const order = await newOrder();
    expect(await attempt(order, gateway({ live: true }))).toEqual({ status: 'declined', reason: 'no_payment_method' });
    expect(await providerView(order.orderId)).toEqual({ succeeded: 0, live: 0, all: 0 });
  });
});
