import { afterAll, afterEach, describe, expect, it } from 'bun:test';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createRedis } from '../../src/shared/runtime/redis.ts';
import { batchItem } from '../../src/shared/streams/batch-item.ts';
import { createConsumer, type BatchItem, type Consumer } from '../../src/shared/streams/consumer.ts';
import { consumerSpans } from '../../src/shared/tracing/consumer-spans.ts';
import { traceLogFields } from '../../src/shared/tracing/log-correlation.ts';
import { startPublishSpan } from '../../src/shared/tracing/producer-spans.ts';
import { captureLines } from '../helpers/log-capture.ts';
import { connectRedis, deleteKeys, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.ts';
import { idOf, inMemoryTracing } from '../helpers/in-memory-tracing.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

/**
 * `item.run(work)` puts a handler's work for one entry in that entry's context, as the consumer's
 * processing hook defines it: with the tracing hook, the entry's span, so a handler parents its spans
 * and log lines in the entry's trace without importing anything of tracing.
 */
const { exporter, tracing, finished } = inMemoryTracing();

const prefix = uniquePrefix('item-context');
const admin = connectRedis();
const quiet = createLogger({ service: 'test', level: 'silent' });
const redis = createRedis(TEST_REDIS_URL, { connectionName: 'item-context', log: quiet });
const blockingRedis = createRedis(TEST_REDIS_URL, { connectionName: 'item-context-read', log: quiet });
const running: Consumer[] = [];
let streamSeq = 0;

afterEach(async () => {
  for (const consumer of running.splice(0)) await consumer.stop(1000);
  await tracing.flush();
  exporter.reset();
});
afterAll(async () => {
  await deleteKeys(admin, prefix);
  admin.disconnect();
  redis.disconnect();
  blockingRedis.disconnect();
  await tracing.shutdown();
});

function consume(handler: { handleBatch: (batch: BatchItem<Record<string, string>>[]) => Promise<void> } | { handle: () => Promise<void> }) {
  const stream = `${prefix}s${++streamSeq}`;
  const consumer = createConsumer({
    redis,
    blockingRedis,
    stream,
    group: 'g',
    consumerName: 'c1',
    deadLetterStream: `${stream}.dlq`,
    deadLetterMaxLen: 100,
    decode: (fields) => fields,
    ...handler,
    log: quiet,
    concurrency: 4,
    batchSize: 10,
    blockMs: 100,
    claimIdleMs: 60_000,
    maxDeliveries: 3,
    tracing: consumerSpans(tracing, { stream: 'demo', destination: stream, group: 'g', consumer: 'c1', partition: null }),
  });
  running.push(consumer);
  return { stream, consumer };
}

const entrySpans = (spans: ReadableSpan[]) => spans.filter((span) => span.kind === SpanKind.CONSUMER && span.attributes['messaging.message.id'] !== undefined);

describe("a batch item's run", () => {
  it("runs the work in its entry's span: a publish started there is the entry span's child, a log line carries its ids", async () => {
    const logs = captureLines();
    const traced = createLogger({ service: 'test', level: 'info', destination: logs.stream, mixin: traceLogFields });
    const returned: string[] = [];
    const { stream, consumer } = consume({
      handleBatch: async (batch) => {
        for (const item of batch) {
          const publish = item.run(() => startPublishSpan(tracing, 'demo.next'));
          publish.end();
          returned.push(item.run(() => item.meta.id));
          item.run(() => traced.info({ entry: item.meta.id }, 'handled'));
        }
      },
    });
    const ids = [String(await admin.xadd(stream, '*', 'n', '1')), String(await admin.xadd(stream, '*', 'n', '2'))];
    void consumer.start();
    await waitFor(async () => (await finished()).filter((span) => span.kind === SpanKind.PRODUCER).length === 2, { what: 'two publish spans' });
    await waitFor(async () => entrySpans(await finished()).length === 2, { what: 'two entry spans' });

    const spans = await finished();
    expect(returned).toEqual(ids);
    for (const id of ids) {
      const entry = entrySpans(spans).find((span) => span.attributes['messaging.message.id'] === id)!;
      const publishes = spans.filter((span) => span.kind === SpanKind.PRODUCER && span.parentSpanContext?.spanId === idOf(entry));
      expect(publishes).toHaveLength(1);
      expect(publishes[0]!.spanContext().traceId).toBe(entry.spanContext().traceId);
      expect(logs.lines.find((line) => line.entry === id)).toMatchObject({ trace_id: entry.spanContext().traceId, span_id: idOf(entry) });
    }
  });

  it("gives a per-entry handler, a batch of one, its entry's span as the active context", async () => {
    const { stream, consumer } = consume({
      handle: async () => startPublishSpan(tracing, 'demo.next').end(),
    });
    const id = String(await admin.xadd(stream, '*', 'n', '1'));
    void consumer.start();
    await waitFor(async () => (await finished()).some((span) => span.kind === SpanKind.PRODUCER), { what: 'the publish span' });
    const spans = await finished();
    const [entry] = entrySpans(spans);
    expect(entry!.attributes['messaging.message.id']).toBe(id);
    expect(spans.find((span) => span.kind === SpanKind.PRODUCER)!.parentSpanContext?.spanId).toBe(idOf(entry!));
  });

  it('just runs the work, returning what it returns, without a hook, or through the hook', () => {
    const meta = { id: '1-0', deliveries: 1 };
    expect(batchItem({ n: 1 }, meta).run(() => 42)).toBe(42);
    const bare = { process: <Result>(_entries: unknown, run: () => Promise<Result>) => run() };
    const within = { process: bare.process, within: <T>(entryId: string, work: () => T) => (entryId === meta.id ? work() : (undefined as T)) };
    expect(batchItem({ n: 1 }, meta, within).run(() => 'in context')).toBe('in context');
  });
});
