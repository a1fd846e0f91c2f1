import { afterEach, describe, expect, it } from 'bun:test';
import Stripe from 'stripe';
import type { StripeSandbox } from '../../src/sandbox/stripe/sandbox.ts';
import { signatureHeader } from '../../src/sandbox/stripe/webhooks/signature.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { rejection, startTestSandbox, stripeFor } from './helpers/sandbox.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

const SECRET = 'whsec_webhooks_test';
let running: StripeSandbox | undefined;
const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await running?.stop();
  running = undefined;
  for (const receiver of receivers.splice(0)) receiver.stop();
});

function receiver(): WebhookReceiver {
  const started = startWebhookReceiver(SECRET);
  receivers.push(started);
  return started;
}

/** A sandbox delivering to `urls` (stopped after the test). */
function sandboxFor(urls: string[], env: Record<string, string> = {}): StripeSandbox {
  running = startTestSandbox({ STRIPE_SANDBOX_WEBHOOK_URL: urls.join(','), STRIPE_SANDBOX_WEBHOOK_SECRET: SECRET, STRIPE_SANDBOX_WEBHOOK_RETRY_MS: '50,50,50,50', ...env });
  return running;
}

const params = { amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', metadata: { order_id: 'o-hook' } };

describe('events', () => {
  it('are made for every change, newest first in GET /v1/events, each retrievable', async () => {
    const sandbox = sandboxFor([]);
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create(params, { idempotencyKey: 'evt-create' });
    await stripe.paymentIntents.confirm(intent.id);
    const other = await stripe.paymentIntents.create(params);
    await stripe.paymentIntents.cancel(other.id);

    const events = await stripe.events.list({ limit: 10 });
    expect(events).toMatchObject({ object: 'list', url: '/v1/events', has_more: false });
    expect(events.data.map((event) => event.type)).toEqual(['payment_intent.canceled', 'payment_intent.created', 'payment_intent.succeeded', 'payment_intent.created']);
    const created = events.data[3]!;
    expect(created).toMatchObject({ object: 'event', livemode: false, pending_webhooks: 0, request: { idempotency_key: 'evt-create' }, api_version: expect.any(String) });
    expect(created.id).toMatch(/^evt_/);
    expect((created.data.object as Stripe.PaymentIntent).status).toBe('requires_confirmation');
    expect((await stripe.events.retrieve(created.id)).id).toBe(created.id);
    expect((await stripe.events.list({ type: 'payment_intent.succeeded' })).data).toHaveLength(1);
    expect(await rejection(stripe.events.retrieve('evt_nope'))).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});

describe('webhook deliveries', () => {
  it('are signed as Stripe signs them, so constructEvent accepts them (and a tampered body is refused)', async () => {
    const endpoint = receiver();
    const sandbox = sandboxFor([endpoint.url]);
    const stripe = stripeFor(sandbox.port);
    const intent = await stripe.paymentIntents.create({ ...params, confirm: true });
    await waitFor(() => endpoint.received.length === 2, { what: 'created and succeeded to arrive' });
    expect(endpoint.rejected).toEqual([]);
    expect(endpoint.received.map(({ event }) => event.type).sort()).toEqual(['payment_intent.created', 'payment_intent.succeeded']);
    expect(endpoint.received.every(({ event }) => (event.data.object as Stripe.PaymentIntent).id === intent.id)).toBe(true);

    const { signature } = endpoint.received[0]!;
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const tampered = await rejection(stripe.webhooks.constructEventAsync('{"id":"evt_forged"}', signature, SECRET));
    expect(tampered).toBeInstanceOf(Stripe.errors.StripeSignatureVerificationError);
  });

  it("compute the same header as the SDK's generateTestHeaderString", async () => {
    const stripe = new Stripe('sk_test_sandbox');
    const payload = JSON.stringify({ id: 'evt_1', object: 'event' }, null, 2);
    const expected = await stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: SECRET, timestamp: 1_700_000_000 });
    expect(signatureHeader(payload, SECRET, 1_700_000_000)).toBe(expected);
  });

  it('go to every endpoint of a comma-separated STRIPE_SANDBOX_WEBHOOK_URL', async () => {
    const first = receiver();
    const second = receiver();
    const sandbox = sandboxFor([first.url, second.url]);
    await stripeFor(sandbox.port).paymentIntents.create(params);
    await waitFor(() => first.received.length === 1 && second.received.length === 1, { what: 'both endpoints to get the event' });
    expect(first.received[0]!.event.id).toBe(second.received[0]!.event.id);
  });

  it('are retried on the schedule after the endpoint answers 500, until it answers 2xx', async () => {
    const endpoint = receiver();
    endpoint.answer = () => (endpoint.attempts <= 3 ? 500 : 200);
    const sandbox = sandboxFor([endpoint.url]);
    const stripe = stripeFor(sandbox.port);
    await stripe.paymentIntents.create(params);
    await waitFor(() => endpoint.received.length === 1, { what: 'the delivery to succeed on its 4th attempt' });
    expect(endpoint.attempts).toBe(4);
    const [event] = (await stripe.events.list()).data;
    await waitFor(async () => (await stripe.events.retrieve(event!.id)).pending_webhooks === 0, { what: 'pending_webhooks to drop to 0' });
    expect(sandbox.stats().webhooks).toMatchObject({ delivered: 1, pending: 0, failed: 0, attempts: 4 });
  });

  it('count a reply slower than STRIPE_SANDBOX_WEBHOOK_TIMEOUT_MS as a failure, and retry it', async () => {
    const endpoint = receiver();
    endpoint.answer = async () => {
      if (endpoint.attempts === 1) await Bun.sleep(500);
      return 200;
    };
    const sandbox = sandboxFor([endpoint.url], { STRIPE_SANDBOX_WEBHOOK_TIMEOUT_MS: '100' });
    await stripeFor(sandbox.port).paymentIntents.create(params);
    await waitFor(() => sandbox.stats().webhooks.delivered === 1, { what: 'the retried delivery to succeed' });
    expect(sandbox.stats().webhooks.attempts).toBe(2);
  });

  it('are given up after the last retry, leaving pending_webhooks at 1', async () => {
    const endpoint = receiver();
    endpoint.answer = () => 503;
    const sandbox = sandboxFor([endpoint.url], { STRIPE_SANDBOX_WEBHOOK_RETRY_MS: '20,20' });
    const stripe = stripeFor(sandbox.port);
    await stripe.paymentIntents.create(params);
    await waitFor(() => sandbox.stats().webhooks.failed === 1, { what: 'the delivery to be given up' });
    expect(endpoint.attempts).toBe(3);
    expect((await stripe.events.list()).data[0]!.pending_webhooks).toBe(1);
  });
});
