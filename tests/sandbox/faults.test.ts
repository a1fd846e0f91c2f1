import { afterEach, describe, expect, it } from 'bun:test';
import Stripe from 'stripe';
import type { StripeSandbox } from '../../src/sandbox/stripe/sandbox.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { lastHeader, rawRequest, rejection, startTestSandbox, stripeFor } from './helpers/sandbox.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

let sandbox: StripeSandbox;
let receiver: WebhookReceiver | undefined;
afterEach(async () => {
  await sandbox.stop();
  receiver?.stop();
  receiver = undefined;
});

const SECRET = 'whsec_faults_test';
const params = { amount: 3000, currency: 'usd', payment_method: 'pm_card_visa', metadata: { order_id: 'o-fault' } };

describe('a 500 before the effect', () => {
  it('changes nothing and saves nothing: the retry with the same key does the work', async () => {
    sandbox = startTestSandbox();
    sandbox.setFaults({ rules: [{ fault: 'error_before', times: 1, endpoints: ['create'] }] });
    const stripe = stripeFor(sandbox.port);
    const failed = await rejection(stripe.paymentIntents.create(params, { idempotencyKey: 'before' }));
    expect(failed).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(failed).toMatchObject({ statusCode: 500, type: 'StripeAPIError' });
    expect(sandbox.stats().intents.total).toBe(0);
    const retried = await stripe.paymentIntents.create(params, { idempotencyKey: 'before' });
    expect(lastHeader(retried, 'idempotent-replayed')).toBeNull();
    expect(sandbox.stats().intents.total).toBe(1);
  });

  it('hits only the endpoints it is limited to', async () => {
    sandbox = startTestSandbox();
    sandbox.setFaults({ rules: [{ fault: 'error_before', endpoints: ['confirm'] }] });
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create(params);
    expect(await rejection(stripe.paymentIntents.confirm(intent.id))).toMatchObject({ statusCode: 500 });
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_confirmation');
  });
});

describe('a 500 after the effect', () => {
  it('makes the change, answers 500, and replays that 500 to the same key while the intent has succeeded', async () => {
    sandbox = startTestSandbox();
    sandbox.setFaults({ rules: [{ fault: 'error_after', times: 1, endpoints: ['confirm'] }] });
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create(params);
    const confirm = () => stripe.paymentIntents.confirm(intent.id, {}, { idempotencyKey: 'after' });
    const failed = await rejection(confirm());
    expect(failed).toMatchObject({ statusCode: 500 });
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('succeeded');

    const replayed = await rejection(confirm());
    expect(replayed).toMatchObject({ statusCode: 500 });
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(sandbox.stats().charges).toMatchObject({ succeeded: 1, per_order: { 'o-fault': 1 } });
  });
});

describe('a dropped reply', () => {
  it('makes the change and resets the connection: the SDK raises StripeConnectionError, the intent has succeeded once', async () => {
    sandbox = startTestSandbox();
    sandbox.setFaults({ rules: [{ fault: 'drop_after', endpoints: ['confirm'] }] });
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create(params);
    const error = await rejection(stripe.paymentIntents.confirm(intent.id));
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('succeeded');
    // The SDK resends a request whose connection was reset once, even with retries off, under the same key.
    expect(sandbox.stats().requests.by_endpoint.confirm).toBe(2);
    expect(sandbox.stats().charges.succeeded).toBe(1);
  });

  it("is recovered by the SDK's own resend when only the first reply is dropped: the key replays the saved reply", async () => {
    sandbox = startTestSandbox();
    sandbox.setFaults({ rules: [{ fault: 'drop_after', times: 1, endpoints: ['confirm'] }] });
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create(params);
    const paid = await stripe.paymentIntents.confirm(intent.id);
    expect(paid.status).toBe('succeeded');
    expect(lastHeader(paid, 'idempotent-replayed')).toBe('true');
    expect(sandbox.stats().charges.succeeded).toBe(1);
  });
});

describe('a 429', () => {
  it('answers rate_limit (with Retry-After when asked for) until the fault is lifted', async () => {
    sandbox = startTestSandbox();
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create(params);
    sandbox.setFaults({ rules: [{ fault: 'rate_limit', endpoints: ['retrieve'], retryAfterSeconds: 2 }] });
    const limited = await rejection(stripe.paymentIntents.retrieve(intent.id));
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(limited).toMatchObject({ statusCode: 429, code: 'rate_limit' });
    expect(limited.raw.type).toBe('invalid_request_error');
    expect(limited.headers['retry-after']).toBe('2');
    sandbox.setFaults({});
    expect((await stripe.paymentIntents.retrieve(intent.id)).id).toBe(intent.id);
  });

  it('comes from the own rate limit above STRIPE_SANDBOX_RATE_LIMIT_PER_S, and the stats count it', async () => {
    sandbox = startTestSandbox({ STRIPE_SANDBOX_RATE_LIMIT_PER_S: '5' });
    const statuses = await Promise.all(Array.from({ length: 30 }, () => rawRequest(sandbox.port, 'GET', '/v1/payment_intents?limit=1').then((r) => r.status)));
    const refused = statuses.filter((status) => status === 429).length;
    expect(refused).toBeGreaterThan(0);
    const stats = sandbox.stats().requests;
    expect(stats.rate_limited).toBe(refused);
    expect(stats.total).toBe(30);
    expect(stats.max_per_second).toBeGreaterThan(5);
  });
});

describe('latency', () => {
  it('holds replies for its time plus jitter, long enough to trip a client timeout', async () => {
    sandbox = startTestSandbox();
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create(params);
    sandbox.setFaults({ rules: [{ fault: 'latency', ms: 150, jitterMs: 50, endpoints: ['retrieve'] }] });
    const started = performance.now();
    await stripe.paymentIntents.retrieve(intent.id);
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    const impatient = stripeFor(sandbox.port, { timeout: 20 });
    expect(await rejection(impatient.paymentIntents.retrieve(intent.id))).toBeInstanceOf(Stripe.errors.StripeConnectionError);
  });
});

describe('a confirm answered with processing', () => {
  it('leaves the intent processing, refuses a second confirm, and announces the outcome by webhook later', async () => {
    receiver = startWebhookReceiver(SECRET);
    sandbox = startTestSandbox({ STRIPE_SANDBOX_WEBHOOK_URL: receiver.url, STRIPE_SANDBOX_WEBHOOK_SECRET: SECRET });
    sandbox.setFaults({ rules: [{ fault: 'processing', delayMs: 200, endpoints: ['confirm'] }] });
    const stripe = stripeFor(sandbox.port);
    const good = await stripe.paymentIntents.create(params);
    const bad = await stripe.paymentIntents.create({ ...params, payment_method: 'pm_card_chargeDeclinedInsufficientFunds' });

    expect((await stripe.paymentIntents.confirm(good.id)).status).toBe('processing');
    // A card declined while processing is declined later, by event, not by this reply.
    expect((await stripe.paymentIntents.confirm(bad.id)).status).toBe('processing');
    expect((await stripe.paymentIntents.retrieve(good.id)).status).toBe('processing');
    expect(await rejection(stripe.paymentIntents.confirm(good.id))).toMatchObject({ code: 'payment_intent_unexpected_state' });

    const outcome = (type: string, id: string) => receiver!.received.find(({ event }) => event.type === type && (event.data.object as Stripe.PaymentIntent).id === id);
    await waitFor(() => outcome('payment_intent.succeeded', good.id), { what: 'payment_intent.succeeded by webhook' });
    const failed = await waitFor(() => outcome('payment_intent.payment_failed', bad.id), { what: 'payment_intent.payment_failed by webhook' });
    expect((failed.event.data.object as Stripe.PaymentIntent).last_payment_error?.decline_code).toBe('insufficient_funds');
    expect(receiver.received.some(({ event }) => event.type === 'payment_intent.processing')).toBe(true);
    expect((await stripe.paymentIntents.retrieve(good.id)).status).toBe('succeeded');
    // The settled outcome came from no request.
    expect(outcome('payment_intent.succeeded', good.id)!.event.request).toEqual({ id: null, idempotency_key: null });
  });
});

describe('the fault switches', () => {
  it('are set and read over the admin API, which refuses a bad config', async () => {
    sandbox = startTestSandbox();
    const post = (body: unknown) => fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', body: JSON.stringify(body) });
    const set = await post({ rules: [{ fault: 'error_before', every: 2, endpoints: ['retrieve'] }], seed: 3 });
    expect(set.status).toBe(200);
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create(params);
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await stripe.paymentIntents.retrieve(intent.id).then(() => 'ok', () => '500'));
    expect(outcomes).toEqual(['ok', '500', 'ok', '500']);
    const view = await (await fetch(`${sandbox.url}/_sandbox/faults`)).json();
    expect(view).toMatchObject({ seed: 3, counts: [{ rule: 0, matched: 4, fired: 2 }] });

    const bad = await post({ rules: [{ fault: 'explode' }] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('Invalid fault config');
  });

  it('draw a rate from the seeded random: the same seed hits the same requests', async () => {
    sandbox = startTestSandbox();
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create(params);
    const run = async () => {
      sandbox.setFaults({ rules: [{ fault: 'error_before', rate: 0.5, endpoints: ['retrieve'] }], seed: 42 });
      const pattern: string[] = [];
      for (let i = 0; i < 12; i++) pattern.push(await stripe.paymentIntents.retrieve(intent.id).then(() => 'ok', () => '500'));
      return pattern;
    };
    const first = await run();
    expect(first).toContain('ok');
    expect(first).toContain('500');
    expect(await run()).toEqual(first);
  });

  it('come from STRIPE_SANDBOX_FAULTS at start, and POST /_sandbox/reset forgets the ledger and goes back to them', async () => {
    sandbox = startTestSandbox({ STRIPE_SANDBOX_FAULTS: JSON.stringify([{ fault: 'error_before', endpoints: ['search'] }]) });
    const stripe = stripeFor(sandbox.port);
    await stripe.paymentIntents.create(params);
    expect(await rejection(stripe.paymentIntents.search({ query: "status:'succeeded'" }))).toMatchObject({ statusCode: 500 });
    sandbox.setFaults({});
    const reset = await fetch(`${sandbox.url}/_sandbox/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);
    expect(sandbox.stats().intents.total).toBe(0);
    expect(sandbox.faults().rules).toEqual([{ fault: 'error_before', endpoints: ['search'] }]);
  });

  it('can hide new intents from search for a while, as Stripe search lags behind writes', async () => {
    sandbox = startTestSandbox({ STRIPE_SANDBOX_SEARCH_LAG_MS: '300' });
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create(params);
    const query = { query: "metadata['order_id']:'o-fault'" };
    expect((await stripe.paymentIntents.search(query)).data).toEqual([]);
    await waitFor(async () => (await stripe.paymentIntents.search(query)).data[0]?.id === intent.id, { what: 'the intent to show in search' });
  });
});
