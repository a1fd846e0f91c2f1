import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { greylist } from '../../scripts/lib/mail-sink.ts';
import { readJson } from '../helpers/app.ts';
import { openOrderStream, type OrderMessage } from '../helpers/order-stream.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, type RunningService } from '../helpers/processes.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

/**
 * GET /orders/{id}/events across real processes: two API replicas (A takes the orders, B serves the
 * streams), the payment worker (each charge takes 1 s, so the first state is seen before it, even on a busy machine) and
 * the notify worker, whose mail server greylists `greylisted@...` once (the first attempt is deferred,
 * the next one, 300 ms later, accepted): every change a customer would see, one after the other.
 */
let pipeline: Pipeline;
let replicaA: RunningService;
let replicaB: RunningService;
const urlOf = (replica: RunningService) => `http://127.0.0.1:${replica.port}`;
const MAX_ON_B = 3;

beforeAll(async () => {
  pipeline = await createPipeline('order_events');
  pipeline.system.mail.policy = (recipient, attempt) => (recipient.startsWith('greylisted') ? greylist(1)(recipient, attempt) : undefined);
  const env = { SSE_KEEP_ALIVE_MS: '200' };
  [replicaA, replicaB] = await Promise.all([
    pipeline.spawn('api', env),
    pipeline.spawn('api', { ...env, SSE_MAX_CONNECTIONS: String(MAX_ON_B) }),
    pipeline.spawn('payment', { CONSUMER_NAME: 'payment-events', GATEWAY_LATENCY_MS: '1000' }),
    pipeline.spawn('notify', { CONSUMER_NAME: 'notify-events', EMAIL_RETRY_SCHEDULE_MS: '300,300,300' }),
  ]);
});
afterAll(async () => {
  await killAll();
  await pipeline?.close();
});

async function placeOn(replica: RunningService, email: string): Promise<string> {
  const res = await fetch(`${urlOf(replica)}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ items: [{ menuItemId: 2, quantity: 1 }], customerEmail: email }),
  });
  expect(res.status).toBe(201);
  return (await readJson(res)).id;
}

const follow = (replica: RunningService, orderId: string, lastEventId?: string) => openOrderStream(`${urlOf(replica)}/orders/${orderId}/events`, { lastEventId });

const RANK = { processing: 0, paid: 1, payment_failed: 1 } as const;

/** How far an order has got, as one number that must never go down along a stream. */
function progress({ order }: OrderMessage): number {
  const email = order.deliveries.find((delivery) => delivery.channel === 'email');
  return RANK[order.status] * 100 + (email ? 10 + email.attempts * 2 + (email.status === 'pending' ? 0 : 1) : 0);
}

/** Open streams on a replica, as its /metrics says. */
async function openStreams(replica: RunningService): Promise<number> {
  const metrics = await (await fetch(`${urlOf(replica)}/metrics`)).text();
  return Number(metrics.match(/^order_event_streams\{[^}]*\} (\d+)/m)?.[1]);
}

describe('following an order from another replica', () => {
  it('shows each change of an order placed on replica A, read on replica B, in order, and ends after the last one', async () => {
    const orderId = await placeOn(replicaA, 'greylisted-1@example.com');
    const stream = await follow(replicaB, orderId);
    expect(stream.response.status).toBe(200);
    const messages = await stream.waitForEnd(20_000);

    expect(messages[0]!.order).toMatchObject({ id: orderId, status: 'processing', payment: null, deliveries: [] });
    const paid = messages.find(({ order }) => order.status === 'paid');
    expect(paid?.order.payment).toMatchObject({ outcome: 'succeeded' });
    // The greylisted first attempt, then the accepted second one.
    const deferred = messages.find(({ order }) => order.deliveries.some((d) => d.status === 'pending' && d.lastError?.startsWith('451')));
    expect(deferred).toBeDefined();
    const last = messages.at(-1)!;
    expect(last.order.deliveries).toEqual([expect.objectContaining({ channel: 'email', status: 'sent', attempts: 2 })]);
    expect(last.order.notifiedAt).not.toBeNull();
    expect(messages.indexOf(paid!)).toBeLessThan(messages.indexOf(deferred!));
    expect(messages.indexOf(deferred!)).toBeLessThan(messages.length - 1);

    // In order, each a new state, never one twice; the last is what GET /orders/{id} says on A.
    const steps = messages.map(progress);
    expect(steps).toEqual(steps.toSorted((a, b) => a - b));
    expect(new Set(messages.map((message) => message.id)).size).toBe(messages.length);
    expect(new Set(messages.map((message) => JSON.stringify(message.order))).size).toBe(messages.length);
    expect(last.order).toEqual(await readJson(await fetch(`${urlOf(replicaA)}/orders/${orderId}`)));
    await waitFor(async () => (await openStreams(replicaB)) === 0, { what: 'replica B to forget the finished stream' });
    // B measured how late the changes reached its streams: at least the e-mail sent after the stream opened.
    const delays = (await (await fetch(`${urlOf(replicaB)}/metrics`)).text()).match(/^order_event_delay_seconds_count\{[^}]*\} (\d+)/m);
    expect(Number(delays?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('gives a client that reconnects with Last-Event-ID the state it missed, once, and then a 204', async () => {
    const orderId = await placeOn(replicaA, 'reconnect@example.com');
    const first = await follow(replicaB, orderId);
    const [processing] = await first.waitForMessages(1);
    await first.close();
    await waitFor(async () => (await readJson(await fetch(`${urlOf(replicaA)}/orders/${orderId}`))).notifiedAt, { what: 'the order to be notified', timeoutMs: 15_000 });

    // Back on the other replica: only the state it does not have, and the stream ends with it.
    const back = await follow(replicaA, orderId, processing!.id);
    const missed = await back.waitForEnd();
    expect(missed).toHaveLength(1);
    expect(missed[0]!.order).toMatchObject({ status: 'paid', deliveries: [expect.objectContaining({ status: 'sent' })] });
    const done = await fetch(`${urlOf(replicaB)}/orders/${orderId}/events`, { headers: { 'last-event-id': missed[0]!.id } });
    expect(done.status).toBe(204);
  });

  it('answers an unknown or malformed id 404 or 400 in JSON, and 503 with Retry-After past SSE_MAX_CONNECTIONS', async () => {
    for (const [id, status, code] of [
      ['0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11', 404, 'order_not_found'],
      ['not-an-id', 400, 'validation_failed'],
    ] as const) {
      const res = await fetch(`${urlOf(replicaB)}/orders/${id}/events`);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect((await readJson(res)).error.code).toBe(code);
    }

    const orderId = await placeOn(replicaA, 'crowd@example.com');
    const streams = await Promise.all(Array.from({ length: MAX_ON_B }, () => follow(replicaB, orderId)));
    expect(streams.map((stream) => stream.response.status)).toEqual(Array(MAX_ON_B).fill(200));
    const refused = await fetch(`${urlOf(replicaB)}/orders/${orderId}/events`);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await readJson(refused)).error.code).toBe('too_many_streams');
    // A client that leaves frees its place.
    await Promise.all(streams.map((stream) => stream.close()));
    await waitFor(async () => (await openStreams(replicaB)) === 0, { what: 'replica B to forget the streams that were left' });
  });

  it('closes its open streams when it is told to stop, and exits cleanly', async () => {
    const orderId = await placeOn(replicaA, 'shutdown@example.com');
    const stream = await follow(replicaA, orderId);
    await stream.waitForMessages(1);
    replicaA.proc.kill('SIGTERM');
    await stream.waitForEnd(5_000);
    expect(await replicaA.proc.exited).toBe(0);
    expect(replicaA.lines.some((line) => line.msg === 'closed the order event streams')).toBe(true);
  });
});
