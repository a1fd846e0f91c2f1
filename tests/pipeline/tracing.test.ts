import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { deadLetter } from '../../src/shared/streams/dead-letter.ts';
import { fieldsToRecord, recordToFields } from '../../src/shared/streams/stream-id.ts';
import { readJson } from '../helpers/app.ts';
import { SpanKind, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, type RunningService } from '../helpers/processes.ts';
import { TEST_REDIS_URL } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(90_000);

const ADMIN_TOKEN = 'tracing-test-admin-token';
const PLACED = TOPOLOGY.OrderPlaced;
const COMPLETED = TOPOLOGY.CustomerEmail;

interface TracedSystem {
  receiver: OtlpReceiver;
  pipeline: Pipeline;
  api: RunningService;
  payment: RunningService;
  notify: RunningService;
}

/** A pipeline whose three real processes export their spans to a real OTLP receiver in this test, with `protocol`. */
async function startTracedSystem(label: string, protocol: 'http/json' | 'http/protobuf'): Promise<TracedSystem> {
  const receiver = startOtlpReceiver();
  // The helper's in-process relay is untraced: it must never publish a row before a traced relay (the
  // api's, the payment worker's) does, or that row's XADD span would be missing. Its first tick is an hour away.
  const pipeline = await createPipeline(label, { relayIntervalMs: 3_600_000 });
  // Small export delay so spans arrive within a poll or two; no service name: each process names itself.
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_BSP_SCHEDULE_DELAY: '50' };
  const [api, payment, notify] = await Promise.all([
    pipeline.spawn('api', { ...otel, ADMIN_TOKEN }),
    pipeline.spawn('payment', { ...otel, CONSUMER_NAME: `${label}-payment` }),
    pipeline.spawn('notify', { ...otel, CONSUMER_NAME: `${label}-notify` }),
  ]);
  return { receiver, pipeline, api: api!, payment: payment!, notify: notify! };
}

async function stopTracedSystem(system: TracedSystem | undefined) {
  if (!system) return;
  try {
    await system.pipeline.close();
  } finally {
    await system.receiver.stop();
  }
}

const randomHex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');

/** Places an order through the api process's HTTP port, as a client that is itself traced. */
async function placeTracedOrder(system: TracedSystem, requestId: string) {
  const client = { traceId: randomHex(16), spanId: randomHex(8) };
  const res = await fetch(`http://127.0.0.1:${system.api.port}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId, traceparent: `00-${client.traceId}-${client.spanId}-01` },
    body: JSON.stringify({ items: [{ menuItemId: 2, quantity: 1 }], customerEmail: 'traced@example.com' }),
  });
  expect(res.status).toBe(201);
  const order = (await readJson(res)) as { id: string };
  await system.pipeline.waitUntilSettled([order.id]);
  return { orderId: order.id, client };
}

/** Waits until the receiver holds a span matching `match`. */
function spanWhere(receiver: OtlpReceiver, what: string, match: (span: ReceivedSpan) => boolean): Promise<ReceivedSpan> {
  return waitFor(() => receiver.spans.find(match), { what: `the span ${what}`, timeoutMs: 15_000 });
}

/** The entry of `stream` about an order, as Redis holds it. */
async function entryOf(pipeline: Pipeline, stream: string, orderId: string) {
  const entries = (await pipeline.admin.xrange(pipeline.key(stream), '-', '+')) as [string, string[]][];
  const found = entries.map(([id, flat]) => ({ id, fields: fieldsToRecord(flat) })).find((entry) => entry.fields.orderId === orderId);
  if (!found) throw new Error(`no ${stream} entry for order ${orderId}`);
  return found;
}

/** The Redis client attributes each process's spans carry: the pipeline's Redis is TEST_REDIS_URL (database 0). */
const REDIS_CLIENT = { 'db.system.name': 'redis', 'db.namespace': '0', 'server.address': new URL(TEST_REDIS_URL).hostname, 'server.port': Number(new URL(TEST_REDIS_URL).port) };

/**
 * Checks the relay's XADD of the entry a publish span produced: in the order's trace, under that span.
 * Usually the api's relay sent it, kicked by the commit, but any producing process's relay publishes
 * any row it finds first, so the payment worker's may have.
 */
async function expectRelayXadd(receiver: OtlpReceiver, stream: string, publish: ReceivedSpan, traceId: string): Promise<void> {
  const xadd = await spanWhere(receiver, `the XADD of ${stream}`, (span) => span.name === 'XADD' && span.traceId === traceId && span.parentSpanId === publish.spanId);
  expect(xadd).toMatchObject({ kind: SpanKind.client, status: { code: 0 } });
  expect(['api', 'payment']).toContain(xadd.service);
  expect(xadd.attributes).toMatchObject({ ...REDIS_CLIENT, 'db.operation.name': 'XADD' });
}

/**
 * Every span of one order's journey, each checked against its parent: the client's context ->
 * POST /orders (api) -> orders.placed publish -> XADD (a relay's) and orders.placed process (payment)
 * -> payment.completed publish -> XADD (a relay's) and payment.completed process (notify), all in
 * the client's trace.
 */
async function followOrder(system: TracedSystem, orderId: string, client: { traceId: string; spanId: string }) {
  const { receiver, pipeline } = system;
  const inTrace = (service: string, name: string) => (span: ReceivedSpan) => span.service === service && span.name === name && span.traceId === client.traceId;

  const post = await spanWhere(receiver, 'POST /orders', inTrace('api', 'POST /orders'));
  expect(post).toMatchObject({ kind: SpanKind.server, parentSpanId: client.spanId });
  expect(post.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/orders', 'url.path': '/orders', 'http.response.status_code': 201 });

  const placedPublish = await spanWhere(receiver, 'orders.placed publish', inTrace('api', `${PLACED.stream} publish`));
  expect(placedPublish).toMatchObject({ kind: SpanKind.producer, parentSpanId: post.spanId });
  expect(placedPublish.attributes).toMatchObject({
    'messaging.system': 'redis',
    'messaging.destination.name': PLACED.stream,
    'messaging.operation.type': 'send',
    'app.order.id': orderId,
  });
  const orderWrite = await spanWhere(receiver, 'the order write', inTrace('api', 'INSERT orders order_items outbox'));
  // The statement that writes the order and its event, beside the event's publish span (the outbox writer opens both).
  expect(orderWrite).toMatchObject({ kind: SpanKind.client, parentSpanId: post.spanId });
  expect(orderWrite.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.query.summary': 'INSERT orders order_items outbox' });

  // The entry on the stream carries the publish span's context.
  const placedEntry = await entryOf(pipeline, PLACED.stream, orderId);
  expect(placedEntry.fields.traceparent).toBe(`00-${client.traceId}-${placedPublish.spanId}-01`);
  // A relay put it there: its XADD is in the order's trace, under the publish span.
  await expectRelayXadd(receiver, PLACED.stream, placedPublish, client.traceId);

  const paymentProcess = await spanWhere(receiver, 'orders.placed process', (s) => inTrace('payment', `${PLACED.stream} process`)(s) && s.attributes['app.order.id'] === orderId);
  expect(paymentProcess).toMatchObject({ kind: SpanKind.consumer, parentSpanId: placedPublish.spanId, status: { code: 0 } });
  expect(paymentProcess.attributes).toMatchObject({
    'messaging.system': 'redis',
    'messaging.destination.name': pipeline.key(PLACED.stream),
    'messaging.operation.type': 'process',
    'messaging.consumer.group.name': PLACED.group,
    'messaging.message.id': placedEntry.id,
    'app.messaging.deliveries': 1,
  });

  const completedPublish = await spanWhere(receiver, 'payment.completed publish', inTrace('payment', `${COMPLETED.stream} publish`));
  expect(completedPublish).toMatchObject({ kind: SpanKind.producer, parentSpanId: paymentProcess.spanId });
  // The payment batch's statement: in the order's trace when the batch was this entry alone, else in the batch's, linked.
  const batch = paymentProcess.links.find((link) => link.attributes['app.link.reason'] === 'batch');
  const outcomes = await spanWhere(receiver, 'the payment batch statement', (s) => s.service === 'payment' && s.name === 'INSERT payment_attempts outbox' && s.traceId === (batch?.traceId ?? client.traceId));
  expect(outcomes).toMatchObject({ kind: SpanKind.client, parentSpanId: batch?.spanId ?? paymentProcess.spanId });

  const completedEntry = await entryOf(pipeline, COMPLETED.stream, orderId);
  expect(completedEntry.fields.traceparent).toBe(`00-${client.traceId}-${completedPublish.spanId}-01`);
  await expectRelayXadd(receiver, COMPLETED.stream, completedPublish, client.traceId);
  const notifyProcess = await spanWhere(receiver, 'payment.completed process', (s) => inTrace('notify', `${COMPLETED.stream} process`)(s) && s.attributes['app.order.id'] === orderId);
  expect(notifyProcess).toMatchObject({ kind: SpanKind.consumer, parentSpanId: completedPublish.spanId, status: { code: 0 } });
  expect(notifyProcess.attributes).toMatchObject({ 'messaging.consumer.group.name': COMPLETED.group, 'messaging.message.id': completedEntry.id });

  return { post, paymentProcess, notifyProcess };
}

describe('traces exported over OTLP/HTTP as JSON, across the three processes', () => {
  let system: TracedSystem | undefined;
  beforeAll(async () => {
    system = await startTracedSystem('tracing_json', 'http/json');
  });
  afterAll(async () => {
    await killAll();
    await stopTracedSystem(system);
  });

  it('follows an order in one trace from the POST to the notification, each span a child of the one before', async () => {
    const { receiver, api, payment, notify } = system!;
    const { orderId, client } = await placeTracedOrder(system!, 'traced-order-json');
    const { post, paymentProcess, notifyProcess } = await followOrder(system!, orderId, client);

    const services = new Set(receiver.spans.filter((span) => span.traceId === client.traceId).map((span) => span.service));
    expect([...services].toSorted()).toEqual(['api', 'notify', 'payment']);
    expect(receiver.contentTypes.every((type) => type.startsWith('application/json'))).toBe(true);

    // The log lines made inside those spans name them.
    const placedLine = await api.waitForLine((line) => line.msg === 'order placed' && line.order_id === orderId, 'order placed');
    expect(placedLine).toMatchObject({ trace_id: client.traceId, span_id: post.spanId });
    const paidLine = await payment.waitForLine((line) => line.msg === 'payment recorded' && line.order_id === orderId, 'payment recorded');
    expect(paidLine).toMatchObject({ trace_id: client.traceId, span_id: paymentProcess.spanId });
    const notifiedLine = await notify.waitForLine((line) => line.msg === 'delivered' && line.channel === 'email' && line.order_id === orderId, 'the e-mail delivered');
    expect(notifiedLine).toMatchObject({ trace_id: client.traceId, span_id: notifyProcess.spanId });
  });

  it('links a redelivered entry to the context it was produced in, in a trace of its own', async () => {
    const { receiver, pipeline } = system!;
    const { orderId, client } = await placeTracedOrder(system!, 'traced-redelivery');
    const original = await entryOf(pipeline, PLACED.stream, orderId);
    // The same event again, delivered at once to a consumer that then says nothing: in one MULTI, so the
    // payment worker (blocked in XREADGROUP) never gets it first. After CLAIM_IDLE_MS it claims it: delivery 2.
    const key = pipeline.key(PLACED.stream);
    const replies = await pipeline.admin
      .multi()
      .xadd(key, '*', ...recordToFields(original.fields))
      .xreadgroup('GROUP', PLACED.group, 'silent-consumer', 'COUNT', 1, 'STREAMS', key, '>')
      .exec();
    const copyId = String(replies![0]![1]);

    const redelivered = await spanWhere(receiver, 'the redelivered entry', (s) => s.service === 'payment' && s.attributes['messaging.message.id'] === copyId);
    expect(redelivered.name).toBe(`${PLACED.stream} process`);
    expect(redelivered.attributes['app.messaging.deliveries']).toBe(2);
    expect(redelivered.parentSpanId).toBeUndefined();
    expect(redelivered.traceId).not.toBe(client.traceId);
    const [, producedTraceId, producedSpanId] = original.fields.traceparent!.split('-');
    expect(redelivered.links).toContainEqual({ traceId: producedTraceId!, spanId: producedSpanId!, attributes: { 'app.link.reason': 'redelivery' } });
    await waitFor(async () => (await pipeline.pending(PLACED.stream, PLACED.group)) === 0, { what: 'the copy acknowledged' });
  });

  it("links a replayed dead letter to the trace it came from, as a child of the admin request's span", async () => {
    const { receiver, pipeline } = system!;
    const { orderId, client } = await placeTracedOrder(system!, 'traced-replay');
    const original = await entryOf(pipeline, PLACED.stream, orderId);
    const letterId = await deadLetter(
      { redis: pipeline.admin, deadLetterStream: pipeline.key(PLACED.deadLetterStream), maxLen: 1000 },
      { originalStream: pipeline.key(PLACED.stream), originalId: original.id, group: PLACED.group, consumer: 'gone', error: 'for the test', deliveries: 5, fields: original.fields },
    );

    const adminTrace = { traceId: randomHex(16), spanId: randomHex(8) };
    const res = await fetch(`http://127.0.0.1:${system!.api.port}/admin/dead-letters/${letterId}/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, traceparent: `00-${adminTrace.traceId}-${adminTrace.spanId}-01` },
    });
    expect(res.status).toBe(200);
    const { replayed } = (await readJson(res)) as { replayed: { newId: string }[] };

    const replay = await spanWhere(receiver, 'the replay request', (s) => s.service === 'api' && s.traceId === adminTrace.traceId && s.parentSpanId === adminTrace.spanId);
    expect(replay.name).toBe('POST /admin/dead-letters/:id/replay');
    const processed = await spanWhere(receiver, 'the replayed entry', (s) => s.service === 'payment' && s.attributes['messaging.message.id'] === replayed[0]!.newId);
    expect(processed).toMatchObject({ traceId: adminTrace.traceId, parentSpanId: replay.spanId });
    const [, producedTraceId, producedSpanId] = original.fields.traceparent!.split('-');
    expect(producedTraceId).toBe(client.traceId);
    expect(processed.links).toContainEqual({ traceId: producedTraceId!, spanId: producedSpanId!, attributes: { 'app.link.reason': 'origin' } });
  });
});

describe('traces exported over OTLP/HTTP as protobuf', () => {
  let system: TracedSystem | undefined;
  beforeAll(async () => {
    system = await startTracedSystem('tracing_proto', 'http/protobuf');
  });
  afterAll(async () => {
    await killAll();
    await stopTracedSystem(system);
  });

  it('decode to the same one trace per order, parents right', async () => {
    const { orderId, client } = await placeTracedOrder(system!, 'traced-order-protobuf');
    await followOrder(system!, orderId, client);
    expect(system!.receiver.contentTypes.length).toBeGreaterThan(0);
    expect(system!.receiver.contentTypes.every((type) => type.startsWith('application/x-protobuf'))).toBe(true);
  });
});
