import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { eq, sql } from 'drizzle-orm';
import { deliveries, orders } from '../../src/shared/db/schema.ts';
import { Events } from '../../src/shared/pipeline/events.ts';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';
import { readJson } from '../helpers/app.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { freePort } from '../helpers/redis.ts';
import { healthPort, killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

let pipeline: Pipeline;
let api: RunningService;
let payment: RunningService;
let notify: RunningService;
let apiPort: number;

beforeAll(async () => {
  pipeline = await createPipeline('e2e');
  apiPort = await freePort();
  api = spawnService('api', pipeline.env({ PORT: String(apiPort) }));
  payment = spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-e2e' }));
  notify = spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-e2e' }));
  await api.waitForLine((l) => l.msg === 'api listening', 'listening');
  await payment.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
  await notify.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
});
afterAll(async () => {
  await killAll();
  await pipeline.close();
});

async function post(body: unknown, headers: Record<string, string> = {}) {
  return fetch(`http://127.0.0.1:${apiPort}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('an order through all three processes', () => {
  it('goes processing -> paid -> notified, with one request id in every log', async () => {
    const res = await post({ items: [{ menuItemId: 3, quantity: 2 }], customerEmail: 'e2e@example.com' }, { 'x-request-id': 'e2e-follow-1' });
    expect(res.status).toBe(201);
    const placed = await readJson(res);
    expect(placed.status).toBe('processing');

    const settled = await waitFor(async () => {
      const order = await readJson(await fetch(`http://127.0.0.1:${apiPort}/orders/${placed.id}`));
      return order.notifiedAt && order;
    }, { what: 'the order to be paid and notified' });
    expect(settled.status).toBe('paid');
    expect(settled.payment).toMatchObject({ outcome: 'succeeded', attempts: 1, failureReason: null });
    expect(settled.payment.chargeId).toMatch(/^ch_/);
    expect(Date.parse(settled.notifiedAt)).toBeGreaterThanOrEqual(Date.parse(settled.payment.processedAt));

    // One grep for the request id follows the order across the three services. Each service logs after its
    // commit, so a line can reach our pipe a moment after the row it describes: wait for each, with a deadline.
    const withRequest = (service: RunningService, msg: string) =>
      service.waitForLine((line) => line.request_id === 'e2e-follow-1' && line.msg === msg, `${msg} for e2e-follow-1`, 5_000);
    await withRequest(api, 'order placed');
    await withRequest(payment, 'payment recorded');
    const notified = await withRequest(notify, 'delivered');
    expect(notified).toMatchObject({ service: 'notify', order_id: placed.id, channel: 'email' });

    const [row] = await pipeline.db.select().from(deliveries).where(eq(deliveries.orderId, placed.id));
    expect(row).toMatchObject({ recipient: 'e2e@example.com', outcome: 'succeeded', requestId: 'e2e-follow-1', channel: 'email', status: 'sent', attempts: 1 });
    // The customer's receipt reached the system's mail server.
    expect(pipeline.system.mail.accepted.filter((mail) => mail.to.includes('e2e@example.com'))).toHaveLength(1);
  });

  it('writes stream entries that read plainly in redis-cli', async () => {
    const placed = await readJson(await post({ items: [{ menuItemId: 12, quantity: 1 }], customerEmail: 'plain@example.com' }));
    await pipeline.waitUntilSettled([placed.id]);
    const entries = (await pipeline.admin.xrange(pipeline.key(TOPOLOGY.OrderPlaced.stream), '-', '+')) as [string, string[]][];
    const mine = entries.map(([, flat]) => flat).find((flat) => flat.includes(placed.id))!;
    const fields = fieldsToRecord(mine);
    // Envelope and payload side by side; no customer data (events name the order, PostgreSQL holds it).
    expect(fields).toEqual({ eventId: expect.any(String), type: 'OrderPlaced', occurredAt: expect.any(String), requestId: expect.any(String), orderId: placed.id });
    expect(() => Events.orderPlaced.fromFields(fields)).not.toThrow();
  });

  it('records a declined card as payment_failed and still notifies the customer', async () => {
    const declining = spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-decliner', GATEWAY_DECLINE_RATE: '1' }));
    await payment.stop();
    await declining.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
    try {
      const placed = await readJson(await post({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: 'declined@example.com' }));
      await pipeline.waitUntilSettled([placed.id]);
      const order = await readJson(await fetch(`http://127.0.0.1:${apiPort}/orders/${placed.id}`));
      expect(order.status).toBe('payment_failed');
      expect(order.payment.outcome).toBe('failed');
      expect(['card_declined', 'insufficient_funds', 'expired_card']).toContain(order.payment.failureReason);
      await notify.waitForLine((l) => l.order_id === placed.id && l.msg === 'delivered', 'the failure notice');
      const [mail] = await Promise.all(pipeline.system.mail.accepted.filter((m) => m.to.includes('declined@example.com')).map((m) => m.parsed()));
      expect(mail!.subject).toBe(`Payment failed for your order ${placed.id}`);
    } finally {
      await declining.stop();
      payment = spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-e2e' }));
    }
  });

  it('reports each worker healthy on its own port, and Redis on the API', async () => {
    for (const worker of [payment, notify]) {
      const port = await healthPort(worker);
      // A worker just started reports 503 until its consumer has talked to Redis.
      const res = await waitFor(async () => {
        const attempt = await fetch(`http://127.0.0.1:${port}/health`);
        return attempt.status === 200 && attempt;
      }, { what: `${worker.name} healthy` });
      const body = await readJson(res);
      expect(body.checks).toEqual({ postgres: 'ok', redis: 'ok', consumer: 'ok' });
      expect(body.consumer.state).toMatch(/running|paused/);
    }
    const apiHealth = await readJson(await fetch(`http://127.0.0.1:${apiPort}/health`));
    expect(apiHealth).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('exposes Prometheus metrics on each worker\'s health port and on the API', async () => {
    // The payment worker was replaced by the test above: give this one an order of its own.
    const placed = await readJson(await post({ items: [{ menuItemId: 5, quantity: 1 }], customerEmail: 'metrics@example.com' }));
    await pipeline.waitUntilSettled([placed.id]);
    const paymentText = await (await fetch(`http://127.0.0.1:${await healthPort(payment)}/metrics`)).text();
    expect(paymentText).toMatch(/^stream_entries_processed_total\{stream="orders\.placed",group="payment-service",service="payment"\} [1-9]/m);
    expect(paymentText).toMatch(/^payments_total\{outcome="succeeded",service="payment"\} [1-9]/m);
    expect(paymentText).toContain('gateway_call_duration_seconds_bucket{');
    expect(paymentText).toMatch(/^circuit_breaker_state\{service="payment"\} 0$/m);
    expect(paymentText).toMatch(/^stream_group_pending\{stream="orders\.placed",group="payment-service",service="payment"\} \d+$/m);
    const notifyText = await (await fetch(`http://127.0.0.1:${await healthPort(notify)}/metrics`)).text();
    expect(notifyText).toMatch(/^stream_entries_processed_total\{stream="payment\.completed",group="notify-email",service="notify"\} [1-9]/m);
    const apiText = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    expect(apiText).toMatch(/^orders_created_total\{service="api"\} [1-9]/m);
    expect(apiText).toMatch(/^outbox_unpublished\{service="api"\} \d+$/m);
    expect(apiText).toMatch(/^dead_letter_stream_length\{stream="payment\.dlq",service="api"\} 0$/m);
    expect(apiText).toMatch(/^stream_group_lag\{stream="payment\.completed",group="notify-email",service="api"\} \d+$/m);
  });

  it('leaves nothing pending once the orders are done', async () => {
    await waitFor(
      async () => (await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)) + (await pipeline.pending(TOPOLOGY.CustomerEmail.stream, TOPOLOGY.CustomerEmail.group)) === 0,
      { what: 'no pending entries' },
    );
    const [unpublished] = await pipeline.db.execute<{ n: number }>(sql`select count(*)::int as n from outbox where published_at is null`);
    expect(unpublished!.n).toBe(0);
    const stuck = await pipeline.db.select().from(orders).where(eq(orders.status, 'processing'));
    expect(stuck).toEqual([]);
  });

  it('shuts every service down cleanly on SIGTERM', async () => {
    for (const service of [api, payment, notify]) {
      expect(await service.stop('SIGTERM')).toBe(0);
      expect(service.lines.at(-1)?.msg).toBe('stopped');
      expect(service.stderr).toEqual([]);
    }
  });
});
