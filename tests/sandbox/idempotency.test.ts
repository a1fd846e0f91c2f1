import { afterEach, describe, expect, it } from 'bun:test';
import Stripe from 'stripe';
import type { StripeSandbox } from '../../src/sandbox/stripe/sandbox.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { lastHeader, rawRequest, rejection, startTestSandbox, stripeFor } from './helpers/sandbox.ts';

let sandbox: StripeSandbox;
afterEach(() => sandbox.stop());

const params = { amount: 2500, currency: 'usd', payment_method: 'pm_card_visa', metadata: { order_id: 'o-idem' } };

describe('an Idempotency-Key', () => {
  it('replays the first reply for the same key and parameters, marked Idempotent-Replayed', async () => {
    sandbox = startTestSandbox();
    const stripe = stripeFor(sandbox.port);
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'create-1' });
    const again = await stripe.paymentIntents.create(params, { idempotencyKey: 'create-1' });
    expect(again.id).toBe(first.id);
    expect(lastHeader(first, 'idempotent-replayed')).toBeNull();
    expect(lastHeader(again, 'idempotent-replayed')).toBe('true');
    expect(lastHeader(again, 'original-request')).toBe(first.lastResponse.requestId);
    expect(sandbox.stats().intents.total).toBe(1);
  });

  it('compares parameters as data: the same form in another order is the same request', async () => {
    sandbox = startTestSandbox();
    const form = { amount: '900', currency: 'usd', 'metadata[a]': '1', 'metadata[b]': '2' };
    const first = await rawRequest(sandbox.port, 'POST', '/v1/payment_intents', { form, headers: { 'Idempotency-Key': 'order-free' } });
    const reordered = { 'metadata[b]': '2', currency: 'usd', 'metadata[a]': '1', amount: '900' };
    const again = await rawRequest(sandbox.port, 'POST', '/v1/payment_intents', { form: reordered, headers: { 'Idempotency-Key': 'order-free' } });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
  });

  it('replays a decline too: the saved 402 comes back, and the card is not tried again', async () => {
    sandbox = startTestSandbox();
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create({ amount: 800, currency: 'usd' });
    const confirm = () => stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: 'confirm-declined' });
    const first = await rejection(confirm());
    const again = await rejection(confirm());
    expect(again).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.raw.charge).toBe(first.raw.charge);
    expect(sandbox.stats().charges.failed).toBe(1);
  });

  it('refuses the same key with other parameters, or on another endpoint: 400 idempotency_error', async () => {
    sandbox = startTestSandbox();
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create(params, { idempotencyKey: 'reused' });
    const other = await rejection(stripe.paymentIntents.create({ ...params, amount: 2600 }, { idempotencyKey: 'reused' }));
    expect(other).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(other).toMatchObject({ statusCode: 400, type: 'StripeIdempotencyError' });
    expect(other.raw.message).toContain('same parameters');
    const elsewhere = await rejection(stripe.paymentIntents.confirm(intent.id, {}, { idempotencyKey: 'reused' }));
    expect(elsewhere).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(elsewhere.raw.message).toContain('same endpoint');
  });

  it('answers 409 idempotency_key_in_use to a request arriving while the first with its key still runs', async () => {
    sandbox = startTestSandbox();
    sandbox.setFaults({ rules: [{ fault: 'latency', ms: 300, endpoints: ['create'] }] });
    const send = () => rawRequest(sandbox.port, 'POST', '/v1/payment_intents', { form: { amount: '1000', currency: 'usd' }, headers: { 'Idempotency-Key': 'busy' } });
    const first = send();
    // The second is sent once the first holds the key: its request is counted when it arrives.
    await waitFor(() => sandbox.stats().requests.total === 1, { what: 'the first request to arrive' });
    const second = await send();
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_in_use' });
    expect((await first).status).toBe(200);
    // Once the first has finished, the key replays it.
    const third = await send();
    expect(third.headers.get('idempotent-replayed')).toBe('true');
    expect(third.body.id).toBe((await first).body.id);
  });

  it('saves nothing for a request that fails validation: the key can then be used with corrected parameters', async () => {
    sandbox = startTestSandbox();
    const stripe = stripeFor(sandbox.port);
    const invalid = await rejection(stripe.paymentIntents.create({ ...params, amount: 5 }, { idempotencyKey: 'fix-me' }));
    expect(invalid).toMatchObject({ code: 'amount_too_small' });
    const fixed = await stripe.paymentIntents.create(params, { idempotencyKey: 'fix-me' });
    expect(lastHeader(fixed, 'idempotent-replayed')).toBeNull();
  });

  it('saves nothing for a request refused with 429: the retry with its key runs', async () => {
    sandbox = startTestSandbox();
    sandbox.setFaults({ rules: [{ fault: 'rate_limit', times: 1 }] });
    const stripe = stripeFor(sandbox.port);
    const limited = await rejection(stripe.paymentIntents.create(params, { idempotencyKey: 'limited' }));
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    const retried = await stripe.paymentIntents.create(params, { idempotencyKey: 'limited' });
    expect(lastHeader(retried, 'idempotent-replayed')).toBeNull();
    expect(sandbox.stats().intents.total).toBe(1);
  });

  it('is forgotten after STRIPE_SANDBOX_IDEMPOTENCY_TTL_MS: the same key then makes a new request', async () => {
    sandbox = startTestSandbox({ STRIPE_SANDBOX_IDEMPOTENCY_TTL_MS: '300' });
    const stripe = stripeFor(sandbox.port);
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'short-lived' });
    const replayed = await stripe.paymentIntents.create(params, { idempotencyKey: 'short-lived' });
    expect(replayed.id).toBe(first.id);
    const fresh = await waitFor(
      async () => {
        const intent = await stripe.paymentIntents.create(params, { idempotencyKey: 'short-lived' });
        return intent.id !== first.id && intent;
      },
      { timeoutMs: 5000, intervalMs: 50, what: 'the key to expire' },
    );
    expect(lastHeader(fresh, 'idempotent-replayed')).toBeNull();
  });

  it('is ignored on a GET, as Stripe ignores it', async () => {
    sandbox = startTestSandbox();
    const first = await rawRequest(sandbox.port, 'GET', '/v1/payment_intents', { headers: { 'Idempotency-Key': 'get-key' } });
    const second = await rawRequest(sandbox.port, 'GET', '/v1/payment_intents?limit=5', { headers: { 'Idempotency-Key': 'get-key' } });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
  });
});
