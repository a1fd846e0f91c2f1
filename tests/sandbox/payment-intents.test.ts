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

const order = (orderId: string, extra: Partial<Stripe.PaymentIntentCreateParams> = {}) =>
  stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', metadata: { order_id: orderId }, ...extra });

describe('creating a PaymentIntent', () => {
  it('answers the intent as Stripe does: requires_confirmation with a payment method, a client secret, no charge yet', async () => {
    const intent = await order('o-1', { description: 'Order o-1' });
    expect(intent).toMatchObject({
      object: 'payment_intent',
      amount: 2000,
      currency: 'usd',
      status: 'requires_confirmation',
      metadata: { order_id: 'o-1' },
      description: 'Order o-1',
      latest_charge: null,
      last_payment_error: null,
      livemode: false,
      capture_method: 'automatic_async',
    });
    expect(intent.id).toMatch(/^pi_\w{24}$/);
    expect(intent.client_secret).toStartWith(`${intent.id}_secret_`);
    // A test token makes a fresh PaymentMethod, as in Stripe test mode.
    expect(intent.payment_method).toMatch(/^pm_\w{24}$/);
    expect(intent.lastResponse.requestId).toMatch(/^req_/);
  });

  it('waits for a payment method when none is given', async () => {
    const intent = await stripe.paymentIntents.create({ amount: 500, currency: 'EUR' });
    expect(intent).toMatchObject({ status: 'requires_payment_method', payment_method: null, currency: 'eur', automatic_payment_methods: { enabled: true } });
  });

  it('takes the parameters our worker sends (automatic_payment_methods without redirects, confirm=false)', async () => {
    const intent = await order('o-2', { automatic_payment_methods: { enabled: true, allow_redirects: 'never' }, confirm: false });
    expect(intent.automatic_payment_methods).toEqual({ enabled: true, allow_redirects: 'never' });
  });

  it('confirms in the same call with confirm=true', async () => {
    const intent = await order('o-3', { confirm: true });
    expect(intent.status).toBe('succeeded');
    expect(intent.latest_charge).toMatch(/^ch_/);
  });

  it('refuses what Stripe refuses, with param and code', async () => {
    const missing = await rejection(stripe.paymentIntents.create({ currency: 'usd' } as Stripe.PaymentIntentCreateParams));
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(missing).toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'amount' });

    const unknown = await rejection(order('o', { colour: 'red' } as Partial<Stripe.PaymentIntentCreateParams>));
    expect(unknown).toMatchObject({ code: 'parameter_unknown', param: 'colour' });

    const small = await rejection(order('o', { amount: 10 }));
    expect(small).toMatchObject({ code: 'amount_too_small', param: 'amount' });

    const noCard = await rejection(order('o', { payment_method: 'pm_card_nonsense' }));
    expect(noCard).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'payment_method' });

    const manual = await rejection(order('o', { capture_method: 'manual' }));
    expect(manual).toMatchObject({ statusCode: 400, param: 'capture_method' });
  });
});

describe('retrieving and listing', () => {
  it('retrieves an intent, and answers 404 resource_missing for an unknown one', async () => {
    const created = await order('o-r');
    expect((await stripe.paymentIntents.retrieve(created.id)).id).toBe(created.id);
    const missing = await rejection(stripe.paymentIntents.retrieve('pi_nope'));
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing' });
    expect(missing.raw.message).toBe("No such payment_intent: 'pi_nope'");
  });

  it('lists newest first, pages with starting_after/ending_before, and auto-paginates through the SDK', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await order(`o-l${i}`)).id);
    const newestFirst = [...ids].reverse();

    const first = await stripe.paymentIntents.list({ limit: 3 });
    expect(first).toMatchObject({ object: 'list', url: '/v1/payment_intents', has_more: true });
    expect(first.data.map((intent) => intent.id)).toEqual(newestFirst.slice(0, 3));

    const second = await stripe.paymentIntents.list({ limit: 3, starting_after: first.data[2]!.id });
    expect(second.data.map((intent) => intent.id)).toEqual(newestFirst.slice(3, 6));

    const before = await stripe.paymentIntents.list({ limit: 2, ending_before: newestFirst[4] });
    expect(before.data.map((intent) => intent.id)).toEqual(newestFirst.slice(2, 4));
    expect(before.has_more).toBe(true);

    const all = await stripe.paymentIntents.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
    expect(all.map((intent) => intent.id)).toEqual(newestFirst);
  });
});

describe('searching', () => {
  it("finds an order's intents by metadata['order_id'], and with status joined by AND", async () => {
    const a = await order('o-s1');
    const b = await order('o-s1', { confirm: true });
    await order('o-s2');

    const byOrder = await stripe.paymentIntents.search({ query: "metadata['order_id']:'o-s1'" });
    expect(byOrder).toMatchObject({ object: 'search_result', url: '/v1/payment_intents/search', has_more: false, next_page: null });
    expect(byOrder.data.map((intent) => intent.id).sort()).toEqual([a.id, b.id].sort());

    const succeeded = await stripe.paymentIntents.search({ query: `metadata["order_id"]:"o-s1" AND status:'succeeded'` });
    expect(succeeded.data.map((intent) => intent.id)).toEqual([b.id]);

    const notSucceeded = await stripe.paymentIntents.search({ query: "metadata['order_id']:'o-s1' AND -status:'succeeded'" });
    expect(notSucceeded.data.map((intent) => intent.id)).toEqual([a.id]);
  });

  it('pages with next_page, which the SDK follows', async () => {
    for (let i = 0; i < 5; i++) await order('o-page');
    const first = await stripe.paymentIntents.search({ query: "metadata['order_id']:'o-page'", limit: 2 });
    expect(first.has_more).toBe(true);
    expect(first.next_page).toBeString();
    const all = await stripe.paymentIntents.search({ query: "metadata['order_id']:'o-page'", limit: 2 }).autoPagingToArray({ limit: 100 });
    expect(new Set(all.map((intent) => intent.id)).size).toBe(5);
  });

  it('refuses a query it cannot parse, naming the query param', async () => {
    const bad = await rejection(stripe.paymentIntents.search({ query: "metadata['order_id']:'x' AND status:'a' OR status:'b'" }));
    expect(bad).toMatchObject({ statusCode: 400, param: 'query' });
    const unquoted = await rejection(stripe.paymentIntents.search({ query: 'status:succeeded' }));
    expect(unquoted).toMatchObject({ statusCode: 400, param: 'query' });
  });
});

describe('cancelling', () => {
  it('cancels an unconfirmed intent with its reason and time', async () => {
    const intent = await order('o-c');
    const canceled = await stripe.paymentIntents.cancel(intent.id, { cancellation_reason: 'duplicate' });
    expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'duplicate' });
    expect(canceled.canceled_at).toBeNumber();
  });

  it('refuses to cancel a succeeded intent, or to confirm a cancelled one: payment_intent_unexpected_state with the intent', async () => {
    const paid = await order('o-c2', { confirm: true });
    const cancel = await rejection(stripe.paymentIntents.cancel(paid.id));
    expect(cancel).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    expect(cancel.payment_intent).toMatchObject({ id: paid.id, status: 'succeeded' });

    const intent = await order('o-c3');
    await stripe.paymentIntents.cancel(intent.id);
    const confirm = await rejection(stripe.paymentIntents.confirm(intent.id));
    expect(confirm).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    expect(confirm.payment_intent.status).toBe('canceled');
  });
});

describe('the protocol around the endpoints', () => {
  it('accepts any sk_test_ key and refuses a missing, malformed or live one with 401', async () => {
    const none = await fetch(`${sandbox.url}/v1/payment_intents`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    const live = await rejection(new Stripe('sk_live_abc', { host: '127.0.0.1', port: sandbox.port, protocol: 'http' }).paymentIntents.list());
    expect(live).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    const other = await rawRequest(sandbox.port, 'GET', '/v1/payment_intents', { headers: { Authorization: 'Bearer pk_test_abc' } });
    expect(other.status).toBe(401);
    const basic = await fetch(`${sandbox.url}/v1/payment_intents`, { headers: { Authorization: `Basic ${btoa('sk_test_curl:')}` } });
    expect(basic.status).toBe(200);
  });

  it('answers an unknown route 404 in the error shape, and gives every answer a Request-Id', async () => {
    const unknown = await rawRequest(sandbox.port, 'GET', '/v1/customers');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ type: 'invalid_request_error' });
    expect(unknown.body.error.message).toContain('Unrecognized request URL (GET: /v1/customers)');
    expect(unknown.headers.get('request-id')).toMatch(/^req_/);
  });
});
