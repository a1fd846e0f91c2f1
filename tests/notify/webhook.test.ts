import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { Webhook } from 'standardwebhooks';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { startWebhookReceiver, ACCEPT, type EndpointPolicy, type WebhookReceiver } from '../../scripts/lib/webhook-receiver.ts';
import { get, readJson } from '../helpers/app.ts';
import { deliveryOf, paidOrder } from '../helpers/notify.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { healthPort, killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

/**
 * The restaurant's webhook, end to end: a real notify process (running both channels, each its own
 * consumer group) POSTs to a real HTTP endpoint in this process, which verifies every request with the
 * standardwebhooks package and answers as it is told.
 */
let pipeline: Pipeline;
let notify: RunningService;
let receiver: WebhookReceiver;
// 300, 600, 900 ms (+-20 %): four attempts in all, then failed and dead-lettered.
const SCHEDULE = '300,600,900';

beforeAll(async () => {
  pipeline = await createPipeline('notify_webhook');
  receiver = startWebhookReceiver();
  notify = spawnService(
    'notify',
    pipeline.env({
      CONSUMER_NAME: 'notify-webhook-test',
      ORDER_WEBHOOK_URL: receiver.url,
      ORDER_WEBHOOK_SECRET: receiver.secret,
      WEBHOOK_RETRY_SCHEDULE_MS: SCHEDULE,
      WEBHOOK_TIMEOUT_MS: '500',
    }),
  );
  await waitFor(() => notify.lines.filter((l) => l.msg === 'consumer started').length === 2, { what: 'both consumers started' });
});
afterAll(async () => {
  await killAll();
  await pipeline?.close();
  await receiver?.stop();
});

/** The endpoint answers `policy` for one order's webhook only (known once it is placed); every other one is accepted. */
function forOrder(order: () => string, policy: EndpointPolicy): EndpointPolicy {
  return (webhookId, attempt) => (order() !== '' && webhookId.includes(order()) ? policy(webhookId, attempt) : { status: 204 });
}

const requestsFor = (id: string) => receiver.requests.filter((request) => request.id.includes(id));

describe("the restaurant's webhook", () => {
  it('POSTs a paid order, signed per Standard Webhooks: the standardwebhooks package verifies it', async () => {
    const { id } = await paidOrder(pipeline, 'kitchen@example.com', { items: [{ menuItemId: 3, quantity: 2 }, { menuItemId: 12, quantity: 1 }] });
    const [request] = await waitFor(() => {
      const got = requestsFor(id);
      return got.length > 0 && got;
    }, { what: 'the webhook' });
    expect(request!.verifyError).toBeUndefined();
    expect(request!.status).toBe(204);
    expect(request!.id).toBe(`msg_${id}_order.paid`);
    expect(request!.signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    // Verified again here, with the package and the secret alone: the signature covers this very body.
    expect(new Webhook(receiver.secret).verify(request!.body, { 'webhook-id': request!.id, 'webhook-timestamp': request!.timestamp, 'webhook-signature': request!.signature })).toEqual(request!.payload);
    expect(() => new Webhook(receiver.secret).verify(request!.body.replace('"totalCents":', '"totalCents":1'), { 'webhook-id': request!.id, 'webhook-timestamp': request!.timestamp, 'webhook-signature': request!.signature })).toThrow();

    const view = await readJson(await pipeline.app.handle(get(`/orders/${id}`)));
    expect(request!.payload).toEqual({
      type: 'order.paid',
      timestamp: view.payment.processedAt,
      data: {
        id,
        items: view.items.map(({ menuItemId, name, quantity, unitPriceCents, lineTotalCents }: Record<string, unknown>) => ({ menuItemId, name, quantity, unitPriceCents, lineTotalCents })),
        totalCents: view.totalCents,
        currency: 'usd',
        createdAt: view.createdAt,
        paidAt: view.payment.processedAt,
      },
    });
    // No card data, no customer.
    expect(request!.body).not.toMatch(/ch_|pm_|chargeId|kitchen@example\.com/);
    const delivery = await waitFor(async () => (await deliveryOf(pipeline, id, 'webhook'))?.status === 'sent' && deliveryOf(pipeline, id, 'webhook'));
    expect(delivery).toMatchObject({ status: 'sent', attempts: 1, messageId: `msg_${id}_order.paid`, recipient: receiver.url });
    await waitFor(async () => (await deliveryOf(pipeline, id, 'email'))?.status === 'sent', { what: 'the e-mail too' });
    const after = await readJson(await pipeline.app.handle(get(`/orders/${id}`)));
    expect(after.deliveries.map((d: { channel: string; status: string }) => [d.channel, d.status])).toEqual([
      ['email', 'sent'],
      ['webhook', 'sent'],
    ]);
  });

  it('sends no webhook for a failed payment (the customer still gets the e-mail)', async () => {
    const { id } = await paidOrder(pipeline, 'no-kitchen@example.com', { outcome: 'failed' });
    await waitFor(async () => (await deliveryOf(pipeline, id, 'email'))?.status === 'sent', { what: 'the e-mail' });
    await notify.waitForLine((l) => l.order_id === id && l.channel === 'webhook' && l.msg === 'nothing to tell on this channel', 'the webhook consumer passing it by');
    expect(requestsFor(id)).toEqual([]);
    expect(await deliveryOf(pipeline, id, 'webhook')).toBeUndefined();
  });

  it('retries an endpoint that fails (a 503, a timeout) on the schedule, with the same webhook-id each time, until it takes it', async () => {
    let order = '';
    // A 503, then an answer too late (after WEBHOOK_TIMEOUT_MS, 500 ms: the sender has given up on it), then a 200.
    receiver.policy = forOrder(() => order, (_, attempt) => (attempt === 1 ? { status: 503 } : attempt === 2 ? { status: 204, delayMs: 1500 } : { status: 200 }));
    try {
      order = (await paidOrder(pipeline, 'flaky-kitchen@example.com')).id;
      const delivery = await waitFor(async () => {
        const row = await deliveryOf(pipeline, order, 'webhook');
        return row?.status === 'sent' && row;
      }, { what: 'the webhook accepted on its third attempt', timeoutMs: 15_000 });
      expect(delivery.attempts).toBe(3);
      // The second attempt was given up after WEBHOOK_TIMEOUT_MS: its own reason is the last error.
      expect(delivery.lastError).toContain('no answer within WEBHOOK_TIMEOUT_MS');
      const requests = requestsFor(order);
      // The late answer may still be on its way: the sender gave up on it either way.
      expect(requests.map((r) => r.status)).toEqual([503, expect.any(Number), 200]);
      expect(new Set(requests.map((r) => r.id))).toEqual(new Set([`msg_${order}_order.paid`]));
      expect(new Set(requests.map((r) => r.body)).size).toBe(1);
      // Each attempt signed afresh, and every one verified.
      expect(requests.every((r) => r.verifyError === undefined)).toBe(true);
      // The schedule's steps apart: at least 240 ms (300 - 20 %) after the 503, 480 ms after the timeout.
      expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(240);
      expect(requests[2]!.at - requests[1]!.at).toBeGreaterThanOrEqual(480);
    } finally {
      receiver.policy = ACCEPT;
    }
  });

  it('dead-letters a webhook the endpoint never takes, with every attempt, once the schedule is spent', async () => {
    let order = '';
    receiver.policy = forOrder(() => order, () => ({ status: 500 }));
    try {
      order = (await paidOrder(pipeline, 'dead-kitchen@example.com')).id;
      const failed = await waitFor(async () => {
        const row = await deliveryOf(pipeline, order, 'webhook');
        return row?.status === 'failed' && row;
      }, { what: 'the webhook failed', timeoutMs: 15_000 });
      expect(failed.attempts).toBe(4);
      expect(failed.lastError).toContain('HTTP 500');
      const letter = await waitFor(async () => (await pipeline.deadLetters(TOPOLOGY.RestaurantWebhook.deadLetterStream)).find((l) => l.fields?.includes(order)), {
        what: 'the dead letter',
      });
      expect(letter.group).toBe(TOPOLOGY.RestaurantWebhook.group);
      expect(letter.error).toMatch(/^failed 4 attempts, the retry schedule is spent: attempt 1 at .*HTTP 500.*; attempt 2 at .*; attempt 3 at .*; attempt 4 at .*HTTP 500/);
      expect(requestsFor(order).map((r) => r.status)).toEqual([500, 500, 500, 500]);
      // The customer's e-mail went out at once all the same.
      expect((await deliveryOf(pipeline, order, 'email'))!.status).toBe('sent');
      const summary = await readJson(await pipeline.app.handle(get('/ops/summary')));
      expect(summary.deliveries.find((d: { channel: string }) => d.channel === 'webhook')).toMatchObject({ failed: 1 });
      const metrics = await (await fetch(`http://127.0.0.1:${await healthPort(notify)}/metrics`)).text();
      expect(metrics).toMatch(/^notify_delivery_attempts_total\{channel="webhook",result="exhausted",service="notify"\} 1$/m);
    } finally {
      receiver.policy = ACCEPT;
    }
  });

  it("never holds up the customer's e-mail behind an endpoint that is down", async () => {
    // Down as endpoints go down: every request hangs until the sender gives up (WEBHOOK_TIMEOUT_MS), then a 503.
    const down = new Set<string>();
    receiver.policy = (webhookId) => ([...down].some((id) => webhookId.includes(id)) ? { status: 503, delayMs: 2000 } : { status: 204 });
    try {
      const orders = await Promise.all(
        Array.from({ length: 5 }, async (_, i) => {
          const { id } = await paidOrder(pipeline, `busy-${i}@example.com`);
          down.add(id);
          return id;
        }),
      );
      // Every e-mail is sent while every webhook of these orders is still waiting for its next attempt.
      await waitFor(async () => {
        const rows = await Promise.all(orders.map((id) => deliveryOf(pipeline, id, 'email')));
        return rows.every((row) => row?.status === 'sent');
      }, { what: 'every e-mail sent' });
      const webhooks = await Promise.all(orders.map((id) => deliveryOf(pipeline, id, 'webhook')));
      expect(webhooks.every((row) => row === undefined || row.status === 'pending')).toBe(true);
    } finally {
      receiver.policy = ACCEPT;
    }
  });
});
