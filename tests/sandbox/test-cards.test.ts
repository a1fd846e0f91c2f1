import { afterEach, beforeEach, describe, expect, it } from 'bun:test';
import Stripe from 'stripe';
import type { StripeSandbox } from '../../src/sandbox/stripe/sandbox.ts';
import { rawRequest, rejection, startTestSandbox, stripeFor } from './helpers/sandbox.ts';

let sandbox: StripeSandbox;
let stripe: Stripe;

beforeEach(() => {
  sandbox = startTestSandbox();
  stripe = stripeFor(sandbox.port);
});
afterEach(() => sandbox.stop());

const unconfirmed = (orderId = 'o-card') => stripe.paymentIntents.create({ amount: 1500, currency: 'usd', metadata: { order_id: orderId } });

describe("confirming with Stripe's test cards", () => {
  for (const card of ['pm_card_visa', 'pm_card_mastercard']) {
    it(`charges ${card}: succeeded, with its charge`, async () => {
      const intent = await unconfirmed();
      const paid = await stripe.paymentIntents.confirm(intent.id, { payment_method: card });
      expect(paid).toMatchObject({ status: 'succeeded', amount_received: 1500, last_payment_error: null });
      expect(paid.latest_charge).toMatch(/^ch_/);
    });
  }

  const declines = [
    { card: 'pm_card_chargeDeclined', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
    { card: 'pm_card_chargeDeclinedInsufficientFunds', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
    { card: 'pm_card_chargeDeclinedExpiredCard', code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.' },
  ];
  for (const { card, code, decline_code, message } of declines) {
    it(`declines ${card} with 402 ${code}/${decline_code}, carrying the intent back in requires_payment_method`, async () => {
      const intent = await unconfirmed();
      const error = await rejection(stripe.paymentIntents.confirm(intent.id, { payment_method: card }));
      expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(error).toMatchObject({ statusCode: 402, type: 'StripeCardError', code, decline_code });
      expect(error.raw).toMatchObject({ type: 'card_error', message, doc_url: expect.stringContaining('stripe.com/docs/error-codes/') });
      expect(error.payment_intent).toMatchObject({
        id: intent.id,
        status: 'requires_payment_method',
        payment_method: null,
        last_payment_error: { type: 'card_error', code, decline_code, message, payment_method: { object: 'payment_method', type: 'card' } },
      });
      expect(error.payment_intent.latest_charge).toBe(error.raw.charge);
      // The decline is kept: a read says the same.
      expect((await stripe.paymentIntents.retrieve(intent.id)).last_payment_error?.decline_code).toBe(decline_code);
    });
  }

  it('answers the decline on create with confirm=true too (402, the intent made and declined)', async () => {
    const error = await rejection(stripe.paymentIntents.create({ amount: 900, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect((await stripe.paymentIntents.retrieve(error.payment_intent.id)).status).toBe('requires_payment_method');
  });

  it('refuses an unknown payment method with 400 resource_missing on confirm, changing nothing', async () => {
    const intent = await unconfirmed();
    const error = await rejection(stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_doesNotExist' }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'payment_method' });
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_payment_method');
  });

  it('lets a declined intent be confirmed again with another card', async () => {
    const intent = await unconfirmed();
    await rejection(stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_chargeDeclined' }));
    const noCard = await rejection(stripe.paymentIntents.confirm(intent.id));
    expect(noCard).toMatchObject({ code: 'payment_intent_unexpected_state' });
    expect((await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa' })).status).toBe('succeeded');
  });

  it('charges an intent at most once: confirming a succeeded one answers 400 with the intent, and no second charge', async () => {
    const intent = await stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: 'pm_card_visa', metadata: { order_id: 'o-once' } });
    const paid = await stripe.paymentIntents.confirm(intent.id);
    const again = await rejection(stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa' }));
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(again).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    expect(again.payment_intent).toMatchObject({ id: intent.id, status: 'succeeded', latest_charge: paid.latest_charge });
    expect(sandbox.stats().charges).toMatchObject({ succeeded: 1, per_order: { 'o-once': 1 }, orders_charged_more_than_once: [] });
  });

  it('waits in requires_action for a 3-D Secure card, and declines it off-session', async () => {
    const intent = await unconfirmed();
    const waiting = await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_authenticationRequired' });
    expect(waiting).toMatchObject({ status: 'requires_action', next_action: { type: 'use_stripe_sdk' } });

    const other = await unconfirmed();
    const error = await rejection(stripe.paymentIntents.confirm(other.id, { payment_method: 'pm_card_authenticationRequired', off_session: true }));
    expect(error).toMatchObject({ statusCode: 402, code: 'authentication_required', decline_code: 'authentication_required' });
  });

  it('sends the decline body exactly in Stripe\'s shape on the wire', async () => {
    const intent = await unconfirmed();
    const { status, body } = await rawRequest(sandbox.port, 'POST', `/v1/payment_intents/${intent.id}/confirm`, { form: { payment_method: 'pm_card_chargeDeclined' } });
    expect(status).toBe(402);
    expect(Object.keys(body.error).sort()).toEqual(['charge', 'code', 'decline_code', 'doc_url', 'message', 'payment_intent', 'payment_method', 'request_log_url', 'type']);
  });
});
