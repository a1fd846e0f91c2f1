import { afterAll, afterEach, beforeAll, describe, expect, it } from 'bun:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { eq, sql } from 'drizzle-orm';
import { outbox } from '../../src/shared/db/schema.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { Events, type OrderPlaced } from '../../src/shared/pipeline/events.ts';
import { publishPending } from '../../src/shared/pipeline/outbox.ts';
import { reconcile } from '../../src/shared/pipeline/reconciler.ts';
import { TOPOLOGY, streamKey } from '../../src/shared/pipeline/topology.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createRedis } from '../../src/shared/runtime/redis.ts';
import { createConsumer, type BatchItem, type ProcessedEntry } from '../../src/shared/streams/consumer.ts';
import { consumerSpans } from '../../src/shared/tracing/consumer-spans.ts';
import { traceLogFields } from '../../src/shared/tracing/log-correlation.ts';
import { withPipelineSpans } from '../../src/shared/tracing/redis-spans.ts';
import { DISABLED_TRACING, type Tracing } from '../../src/shared/tracing/tracing.ts';
import { createTestApp, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { captureLines } from '../helpers/log-capture.ts';
import { connectRedis, deleteKeys, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.ts';
import { idOf, inMemoryTracing } from '../helpers/in-memory-tracing.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

const { exporter, tracing, finished } = inMemoryTracing();
const traceparent = (span: ReadableSpan) => `00-${span.spanContext().traceId}-${idOf(span)}-01`;

let tdb: TestDatabase;
const prefix = uniquePrefix('tracing');
const admin = connectRedis();
beforeAll(async () => {
  tdb = await createTestDatabase('tracing');
  await seedMenu(tdb.db);
});
afterEach(async () => {
  await tracing.flush();
  exporter.reset();
});
afterAll(async () => {
  await deleteKeys(admin, prefix);
  admin.disconnect();
  await tdb.drop();
  await tracing.shutdown();
});

describe('POST /orders with tracing on', () => {
  it('continues the caller trace and stores the publish span context with the outbox row, written by SQL as the codec writes it', async () => {
    const { app, logs } = createTestApp(tdb.db, { tracing });
    const caller = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await app.handle(postJson('/orders', { items: [{ menuItemId: 3, quantity: 1 }], customerEmail: 'ada@example.com' }, { traceparent: caller }));
    expect(res.status).toBe(201);
    const { id } = await readJson(res);

    const spans = await finished();
    const server = spans.find((span) => span.kind === SpanKind.SERVER)!;
    expect(server.name).toBe('POST /orders');
    expect(server.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(server.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    const publish = spans.find((span) => span.name === 'orders.placed publish')!;
    expect(publish.parentSpanContext?.spanId).toBe(idOf(server));
    const write = spans.find((span) => span.name === 'INSERT orders order_items outbox')!;
    expect(write.parentSpanContext?.spanId).toBe(idOf(server));

    const [row] = await tdb.db.select().from(outbox).where(eq(outbox.orderId, id));
    expect(row!.event.traceparent).toBe(traceparent(publish));
    expect(Events.orderPlaced.toFields(row!.event as OrderPlaced).traceparent).toBe(traceparent(publish));
    // Without a logger mixin (this test app's logger has none) lines stay as they were.
    expect(logs.lines.find((line) => line.msg === 'order placed')).not.toHaveProperty('trace_id');
  });

  it('leaves GET /health untraced', async () => {
    const { app } = createTestApp(tdb.db, { tracing });
    expect((await app.handle(new Request('http://localhost/health'))).status).toBe(200);
    expect(await finished()).toEqual([]);
  });
});

describe('the reconciler with tracing on', () => {
  it("re-emits with a new trace's publish span as parent and the last emission as link", async () => {
    const { app } = createTestApp(tdb.db, { tracing });
    const { id } = await readJson(await app.handle(postJson('/orders', { items: [{ menuItemId: 1, quantity: 1 }], customerEmail: 'late@example.com' })));
    const [first] = await tdb.db.select().from(outbox).where(eq(outbox.orderId, id));
    await tdb.db.execute(sql`update orders set updated_at = now() - interval '5 minutes' where id = ${id}`);
    await tdb.db.execute(sql`update outbox set created_at = now() - interval '5 minutes', published_at = now() where order_id = ${id}`);
    await finished();
    exporter.reset();

    expect((await reconcile(tdb.db, { olderThanMs: 60_000, tracing })).orderPlaced).toBeGreaterThanOrEqual(1);
    const rows = await tdb.db.select().from(outbox).where(eq(outbox.orderId, id)).orderBy(outbox.id);
    expect(rows).toHaveLength(2);
    const copy = rows[1]!.event;
    expect(copy.tracelink).toBe(first!.event.traceparent!);
    const publish = (await finished()).find((span) => span.attributes['app.order.id'] === id)!;
    expect(publish.name).toBe('orders.placed publish');
    expect(publish.parentSpanContext).toBeUndefined();
    expect(publish.attributes['app.reemitted']).toBe(true);
    expect(copy.traceparent).toBe(traceparent(publish));
    expect(publish.links.map((link) => link.context.spanId)).toEqual([(first!.event.traceparent as string).split('-')[2]!]);
  });
});

describe('the consumer with a processing hook', () => {
  const log = createLogger({ service: 'test', level: 'silent' });
  const redis = createRedis(TEST_REDIS_URL, { connectionName: 'tracing-test', log });
  const blockingRedis = createRedis(TEST_REDIS_URL, { connectionName: 'tracing-test-read', log });
  afterAll(() => {
    redis.disconnect();
    blockingRedis.disconnect();
  });

  function consume(stream: string, handler: { handle: () => Promise<void> } | { handleBatch: (batch: BatchItem<Record<string, string>>[]) => Promise<{ failed: { id: string; error: unknown }[] }> }, seen: ProcessedEntry[][]) {
    const spans = consumerSpans(tracing, { stream: 'demo', destination: stream, group: 'g', consumer: 'c1', partition: null });
    return createConsumer({
      redis,
      blockingRedis,
      stream,
      group: 'g',
      consumerName: 'c1',
      deadLetterStream: `${stream}.dlq`,
      deadLetterMaxLen: 100,
      decode: (fields) => fields,
      ...handler,
      log,
      concurrency: 4,
      batchSize: 10,
      blockMs: 100,
      claimIdleMs: 60_000,
      maxDeliveries: 3,
      // The library sees only this: entries in, the handler's result out.
      tracing: {
        process(entries, run) {
          seen.push([...entries]);
          return spans.process(entries, run);
        },
        within: spans.within,
      },
    });
  }

  it('runs each handler call inside its entries\' spans, children of their traceparent, failed ones marked', async () => {
    const stream = `${prefix}batch`;
    const producer = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const ids = [
      String(await admin.xadd(stream, '*', 'n', '1', 'traceparent', producer)),
      String(await admin.xadd(stream, '*', 'n', '2')),
    ];
    const seen: ProcessedEntry[][] = [];
    const logs = captureLines();
    const traced = createLogger({ service: 'test', level: 'info', destination: logs.stream, mixin: traceLogFields });
    const consumer = consume(
      stream,
      {
        handleBatch: async (batch) => {
          for (const item of batch) item.run(() => traced.info({ entry: item.meta.id }, 'handled'));
          return { failed: [{ id: ids[1]!, error: new Error('no good') }] };
        },
      },
      seen,
    );
    void consumer.start();
    await waitFor(async () => (await finished()).filter((span) => span.kind === SpanKind.CONSUMER).length === 3, { what: 'two entry spans and a batch span' });
    await consumer.stop(1000);

    expect(seen.flat().map(({ id, deliveries, fields }) => ({ id, deliveries, n: fields.n }))).toEqual([
      { id: ids[0]!, deliveries: 1, n: '1' },
      { id: ids[1]!, deliveries: 1, n: '2' },
    ]);
    const spans = await finished();
    const batch = spans.find((span) => span.attributes['messaging.batch.message_count'] === 2)!;
    const first = spans.find((span) => span.attributes['messaging.message.id'] === ids[0])!;
    const second = spans.find((span) => span.attributes['messaging.message.id'] === ids[1])!;
    expect(first.name).toBe('demo process');
    expect(first.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(first.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(first.status.code).toBe(SpanStatusCode.UNSET);
    expect(second.parentSpanContext).toBeUndefined();
    expect(second.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'no good' });
    expect(first.links.map((link) => link.context.spanId)).toContain(idOf(batch));
    expect(batch.links.map((link) => link.context.spanId)).toEqual(['b7ad6b7169203331']);
    // Each entry's log line carries its own span.
    expect(logs.lines.map((line) => [line.entry, line.span_id])).toEqual([
      [ids[0], idOf(first)],
      [ids[1], idOf(second)],
    ]);
  });
});

describe('the outbox relay with tracing on', () => {
  const log = createLogger({ service: 'test', level: 'silent' });
  const publisher = createRedis(TEST_REDIS_URL, { connectionName: 'tracing-test-relay', log });
  const placedKey = streamKey(prefix, TOPOLOGY.OrderPlaced.stream);
  const { hostname, port } = new URL(TEST_REDIS_URL);
  const client = { 'db.system.name': 'redis', 'db.namespace': '0', 'server.address': hostname, 'server.port': Number(port) };
  afterAll(() => publisher.disconnect());

  /** Places `n` traced orders, with nothing else left to publish; returns each order's publish span. */
  async function placeTracedOrders(n: number): Promise<ReadableSpan[]> {
    await tdb.db.execute(sql`update outbox set published_at = now() where published_at is null`);
    const { app } = createTestApp(tdb.db, { tracing });
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push((await readJson(await app.handle(postJson('/orders', { items: [{ menuItemId: 1, quantity: 1 }], customerEmail: `relay${i}@example.com` })))).id);
    }
    const spans = await finished();
    exporter.reset();
    return ids.map((id) => spans.find((span) => span.name === 'orders.placed publish' && span.attributes['app.order.id'] === id)!);
  }

  it("puts each event's XADD in its trace, under its publish span, and the pipeline in one span linked both ways", async () => {
    const publishes = await placeTracedOrders(2);
    expect(await publishPending({ db: tdb.db, redis: publisher, streamPrefix: prefix, tracing })).toBe(2);

    const spans = await finished();
    const pipeline = spans.find((span) => span.name === 'PIPELINE XADD')!;
    expect(pipeline.kind).toBe(SpanKind.CLIENT);
    expect(pipeline.parentSpanContext).toBeUndefined();
    expect(pipeline.attributes).toEqual({ ...client, 'db.operation.name': 'PIPELINE XADD', 'db.operation.batch.size': 2 });
    expect(pipeline.links.map((link) => [link.context.spanId, link.attributes?.['app.link.reason']])).toEqual(publishes.map((publish) => [idOf(publish), 'batch']));

    const xadds = spans.filter((span) => span.name === 'XADD');
    expect(xadds).toHaveLength(2);
    for (const publish of publishes) {
      const xadd = xadds.find((span) => span.parentSpanContext?.spanId === idOf(publish))!;
      expect(xadd.kind).toBe(SpanKind.CLIENT);
      expect(xadd.spanContext().traceId).toBe(publish.spanContext().traceId);
      expect(xadd.attributes).toEqual({ ...client, 'db.operation.name': 'XADD' });
      expect(xadd.links.map((link) => [link.context.spanId, link.attributes?.['app.link.reason']])).toEqual([[idOf(pipeline), 'batch']]);
      expect(xadd.status.code).toBe(SpanStatusCode.UNSET);
    }
  });

  it('marks a failed XADD with the Redis error prefix, and makes a pipeline of one a single XADD span', async () => {
    const [publish] = await placeTracedOrders(1);
    await admin.del(placedKey);
    await admin.set(placedKey, 'not a stream');
    try {
      await expect(publishPending({ db: tdb.db, redis: publisher, streamPrefix: prefix, tracing })).rejects.toThrow(/WRONGTYPE/);
    } finally {
      await admin.del(placedKey);
    }
    const spans = await finished();
    expect(spans.map((span) => span.name)).toEqual(['XADD']);
    expect(spans[0]!.parentSpanContext?.spanId).toBe(idOf(publish!));
    expect(spans[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(spans[0]!.attributes).toMatchObject({ 'db.response.status_code': 'WRONGTYPE', 'error.type': 'WRONGTYPE' });
    expect(await publishPending({ db: tdb.db, redis: publisher, streamPrefix: prefix, tracing })).toBe(1);
  });

  it('starts no span when tracing is off', async () => {
    const untouchable: Tracing = {
      ...DISABLED_TRACING,
      tracer: new Proxy(DISABLED_TRACING.tracer, {
        get: () => {
          throw new Error('tracing is off: no tracer call expected');
        },
      }),
    };
    const entries: { fields: Record<string, string> }[] = [{ fields: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } }, { fields: {} }];
    expect(await withPipelineSpans(untouchable, publisher, 'XADD', entries, async () => [null, null])).toEqual([null, null]);

    await placeTracedOrders(2);
    expect(await publishPending({ db: tdb.db, redis: publisher, streamPrefix: prefix })).toBe(2);
    expect(await finished()).toEqual([]);
  });
});
