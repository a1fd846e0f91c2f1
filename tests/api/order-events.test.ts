import { afterAll, afterEach, beforeAll, describe, expect, it } from 'bun:test';
import { createOrderReads } from '../../src/api/services/get-order.ts';
import { createOrderFollowers, type OrderFollowers } from '../../src/api/services/order-followers.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { recordOutcomes } from '../../src/shared/payments/payment-outcomes.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { BASE, createTestApp, get, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { captureLines } from '../helpers/log-capture.ts';
import { openOrderStream, type OrderStream } from '../helpers/order-stream.ts';
import { waitFor } from '../helpers/wait-for.ts';

const TOKEN = 'order-events-admin-token';
const MAX = 3;

let tdb: TestDatabase;
let followers: OrderFollowers;
let app: ReturnType<typeof createTestApp>['app'];
const open: OrderStream[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase('order_events');
  await seedMenu(tdb.db);
  ({ app, followers } = build());
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((stream) => stream.close()));
});
afterAll(async () => {
  followers.close();
  await tdb.drop();
});

/** What the followers told of each change's delay from its commit to its streams, in seconds. */
const delays: number[] = [];

/** The app with its own followers: at most MAX streams, a keep-alive every 100 ms. */
function build(maxConnections = MAX) {
  const reads = createOrderReads(tdb.db);
  const hub = createOrderFollowers({
    read: (orderIds) => reads.findOrders(orderIds),
    maxConnections,
    keepAliveMs: 100,
    telling: { restaurantWebhook: false },
    log: createLogger({ service: 'api', level: 'silent', destination: captureLines().stream }),
    onChangeSent: (seconds) => delays.push(seconds),

  });
  return { app: createTestApp(tdb.db, { orderFollowers: hub, env: { ADMIN_TOKEN: TOKEN } }).app, followers: hub };
}

async function placeOrder(email = 'ada@example.com'): Promise<string> {
  const res = await app.handle(postJson('/orders', { items: [{ menuItemId: 1, quantity: 2 }], customerEmail: email }));
  expect(res.status).toBe(201);
  return (await readJson(res)).id;
}

async function follow(orderId: string, options: { lastEventId?: string; headers?: Record<string, string> } = {}, through = app) {
  const stream = await openOrderStream(`${BASE}/orders/${orderId}/events`, { ...options, request: (request) => through.handle(request) });
  open.push(stream);
  return stream;
}

/** What a writer does: the change committed, then announced (here straight to the followers, as the process's reader would). */
async function pay(orderId: string) {
  await recordOutcomes(tdb.sql, [{ orderId, outcome: 'succeeded', chargeId: `ch_${orderId.slice(0, 8)}`, attempts: 1, source: 'reply' }], []);
  followers.changed([orderId]);
}

async function emailSent(orderId: string) {
  await tdb.sql`
    insert into deliveries (order_id, channel, status, recipient, outcome, attempts, event_id, request_id, sent_at)
    values (${orderId}, 'email', 'sent', 'ada@example.com', 'succeeded', 1, gen_random_uuid(), 'test', now())`;
  followers.changed([orderId]);
}

/** Waits for `n` more keep-alive comments: everything the server meant to send before them has arrived. */
async function keepAlivesPass(stream: OrderStream, n = 2) {
  const seen = stream.comments.filter((comment) => comment === 'keep-alive').length;
  await waitFor(() => stream.comments.filter((comment) => comment === 'keep-alive').length >= seen + n, { what: `${n} keep-alive comments` });
}

describe('GET /orders/{id}/events before any stream starts', () => {
  it('answers a malformed id 400 and an unknown one 404, in JSON, as GET /orders/{id} does', async () => {
    for (const [path, status, code] of [
      ['/orders/abc/events', 400, 'validation_failed'],
      ['/orders/0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11/events', 404, 'order_not_found'],
    ] as const) {
      const res = await app.handle(get(path));
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/json');
      const body = await readJson(res);
      expect(body.error.code).toBe(code);
      expect(body).toEqual(await readJson(await app.handle(get(path.replace(/\/events$/, '')))).then((same) => ({ error: { ...same.error, requestId: body.error.requestId } })));
    }
    expect(followers.size()).toBe(0);
  });

  it('answers 503 too_many_streams with Retry-After past SSE_MAX_CONNECTIONS, and takes a stream again once a client left', async () => {
    const orderId = await placeOrder();
    const streams = await Promise.all(Array.from({ length: MAX }, () => follow(orderId)));
    expect(streams.map((stream) => stream.response.status)).toEqual(Array(MAX).fill(200));
    const refused = await app.handle(get(`/orders/${orderId}/events`));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await readJson(refused)).error).toMatchObject({ code: 'too_many_streams', message: expect.stringContaining('SSE_MAX_CONNECTIONS') });

    await streams[0]!.close();
    await waitFor(() => followers.size() === MAX - 1, { what: 'the stream that was left to be forgotten' });
    const again = await follow(orderId);
    expect(again.response.status).toBe(200);
  });
});

describe('GET /orders/{id}/events', () => {
  it('starts with the order exactly as GET /orders/{id} answers it, the e-mail masked unless the admin token is sent', async () => {
    const orderId = await placeOrder('grace@example.com');
    const masked = await follow(orderId);
    expect(masked.response.headers.get('content-type')).toStartWith('text/event-stream');
    const [first] = await masked.waitForMessages(1);
    expect(first!.order).toEqual(await readJson(await app.handle(get(`/orders/${orderId}`))));
    expect(first!.order.customerEmail).toBe('g***@example.com');
    expect(first!.id).toMatch(/^[0-9a-z]+$/);

    const admin = await follow(orderId, { headers: { authorization: `Bearer ${TOKEN}` } });
    const [full] = await admin.waitForMessages(1);
    expect(full!.order).toEqual(await readJson(await app.handle(get(`/orders/${orderId}`, { authorization: `Bearer ${TOKEN}` }))));
    expect(full!.order.customerEmail).toBe('grace@example.com');
  });

  it('sends each change once, and nothing for an announcement that changed nothing', async () => {
    const orderId = await placeOrder();
    const stream = await follow(orderId);
    await stream.waitForMessages(1);
    await pay(orderId);
    const [, paid] = await stream.waitForMessages(2);
    expect(paid!.order).toMatchObject({ status: 'paid', payment: { outcome: 'succeeded' }, deliveries: [] });

    followers.changed([orderId, orderId]);
    await keepAlivesPass(stream);
    expect(stream.messages).toHaveLength(2);
    expect(new Set(stream.messages.map((message) => message.id)).size).toBe(2);
  });

  it("tells each change's delay from its commit once, however many streams it went to, and nothing for a first state", async () => {
    const orderId = await placeOrder();
    const told = delays.length;
    const [a, b] = [await follow(orderId), await follow(orderId)];
    await Promise.all([a.waitForMessages(1), b.waitForMessages(1)]);
    expect(delays.length).toBe(told);

    const before = Date.now();
    await pay(orderId);
    await Promise.all([a.waitForMessages(2), b.waitForMessages(2)]);
    const elapsed = Date.now() - before;
    expect(delays.length).toBe(told + 1);
    // Since the commit, which came after `before` (PostgreSQL's clock is this machine's; 1 ms for its rounding).
    expect(delays.at(-1)!).toBeGreaterThanOrEqual(0);
    expect(delays.at(-1)! * 1000).toBeLessThanOrEqual(elapsed + 1);

    // A client arriving now gets the paid state as its first: no change on its way, nothing told.
    const late = await follow(orderId);
    await late.waitForMessages(1);
    followers.changed([orderId]);
    await keepAlivesPass(a);
    expect(delays.length).toBe(told + 1);

    await emailSent(orderId);
    await Promise.all([a, b, late].map((stream) => stream.waitForEnd()));
    expect(delays.length).toBe(told + 2);
  });

  it('ends after the last change; a reconnect with its id is answered 204, one without it gets the final state once', async () => {
    const orderId = await placeOrder();
    const stream = await follow(orderId);
    await stream.waitForMessages(1);
    await pay(orderId);
    await stream.waitForMessages(2);
    await emailSent(orderId);
    const messages = await stream.waitForEnd();
    expect(messages.map((message) => message.order.status)).toEqual(['processing', 'paid', 'paid']);
    const last = messages.at(-1)!;
    expect(last.order.deliveries).toEqual([expect.objectContaining({ channel: 'email', status: 'sent' })]);
    expect(followers.size()).toBe(0);

    const caughtUp = await app.handle(get(`/orders/${orderId}/events`, { 'last-event-id': last.id }));
    expect(caughtUp.status).toBe(204);
    const fresh = await follow(orderId);
    expect((await fresh.waitForEnd()).map((message) => message.id)).toEqual([last.id]);
  });

  it('gives a client reconnecting with Last-Event-ID what it missed, and nothing it had', async () => {
    const orderId = await placeOrder();
    const first = await follow(orderId);
    const [processing] = await first.waitForMessages(1);
    await first.close();

    // A change while the client was away.
    await pay(orderId);
    const back = await follow(orderId, { lastEventId: processing!.id });
    const [missed] = await back.waitForMessages(1);
    expect(missed!.order.status).toBe('paid');
    await back.close();

    // Nothing changed since: nothing is sent, and the stream stays open for the next change.
    const current = await follow(orderId, { lastEventId: missed!.id });
    await keepAlivesPass(current);
    expect(current.messages).toEqual([]);
    await emailSent(orderId);
    expect((await current.waitForEnd()).map((message) => message.order.notifiedAt === null)).toEqual([true]);
  });

  it('follows an order named in upper case, which PostgreSQL reads as the same UUID and writers announce in lower case', async () => {
    const orderId = await placeOrder();
    const stream = await follow(orderId.toUpperCase());
    const [first] = await stream.waitForMessages(1);
    expect(first!.order.id).toBe(orderId);
    await pay(orderId);
    const [, paid] = await stream.waitForMessages(2);
    expect(paid!.order.status).toBe('paid');
  });

  it('re-reads every followed order on a resync, for changes nobody announced', async () => {
    const orderId = await placeOrder();
    const stream = await follow(orderId);
    await stream.waitForMessages(1);
    await recordOutcomes(tdb.sql, [{ orderId, outcome: 'failed', failureReason: 'card_declined', attempts: 1, source: 'reply' }], []);
    await keepAlivesPass(stream);
    expect(stream.messages).toHaveLength(1);
    followers.resync();
    const [, failed] = await stream.waitForMessages(2);
    expect(failed!.order).toMatchObject({ status: 'payment_failed', payment: { failureReason: 'card_declined' } });
  });

  it('keeps the connection busy with a comment every SSE_KEEP_ALIVE_MS', async () => {
    const stream = await follow(await placeOrder());
    await keepAlivesPass(stream, 3);
    expect(stream.ended).toBe(false);
  });

  it('ends every stream when the process stops, and takes no new one', async () => {
    const { app: stopping, followers: hub } = build();
    const orderId = await placeOrder();
    const stream = await follow(orderId, {}, stopping);
    await stream.waitForMessages(1);
    hub.close();
    await stream.waitForEnd();
    expect(hub.size()).toBe(0);
    const refused = await stopping.handle(get(`/orders/${orderId}/events`));
    expect(refused.status).toBe(503);
    expect((await readJson(refused)).error.code).toBe('streams_unavailable');
  });
});
