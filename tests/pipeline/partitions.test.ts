import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { Events } from '../../src/shared/pipeline/events.ts';
import { partitionOf, streamKey, TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { recordToFields } from '../../src/shared/streams/stream-id.ts';
import { fixMissingOrder } from '../ops/dead-letter-helpers.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { runCli } from '../helpers/cli.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(90_000);

/**
 * Partitions on a single Redis node (STREAM_PARTITIONS=3): orders spread over the partitions,
 * payment workers sharded by CONSUMER_PARTITIONS, and the operations tools per partition.
 */
const PARTITIONS = 3;
let pipeline: Pipeline;
let paymentA: RunningService;
let paymentB: RunningService;

beforeAll(async () => {
  pipeline = await createPipeline('partitions', { partitions: PARTITIONS });
  paymentA = spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-p01', CONSUMER_PARTITIONS: '0-1' }));
  paymentB = spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-p2', CONSUMER_PARTITIONS: '2' }));
  spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-partitions' }));
});
afterAll(async () => {
  await killAll();
  await pipeline.close();
});

const cli = (args: string[]) => runCli(args, pipeline.env());

describe('streams partitioned by order id on one Redis', () => {
  it('spread orders over the partitions, and each worker pays only the orders of the partitions it reads', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await pipeline.placeOrder(`part-${i}@example.com`)).id);
    await pipeline.waitUntilSettled(ids);
    const paidBy = (worker: RunningService) => worker.lines.filter((l) => l.msg === 'payment recorded').map((l) => String(l.order_id));
    // Each line is logged after its commit, so the last ones can trail the settled rows.
    await waitFor(() => paidBy(paymentA).length + paidBy(paymentB).length >= 30, { what: "30 'payment recorded' lines" });
    for (const id of paidBy(paymentA)) expect([0, 1]).toContain(partitionOf(id, PARTITIONS));
    for (const id of paidBy(paymentB)) expect(partitionOf(id, PARTITIONS)).toBe(2);
    expect(paidBy(paymentA).length + paidBy(paymentB).length).toBe(30);
    for (let p = 0; p < PARTITIONS; p++) {
      const expected = ids.filter((id) => partitionOf(id, PARTITIONS) === p).length;
      expect(Number(await pipeline.admin.xlen(streamKey(pipeline.prefix, TOPOLOGY.OrderPlaced.stream, p)))).toBe(expected);
    }
  });

  it('are reported per partition with totals by bun run streams', async () => {
    const { code, stdout } = await cli(['streams', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.streams.filter((s: { stream: string }) => s.stream === TOPOLOGY.OrderPlaced.stream).map((s: { partition: number }) => s.partition)).toEqual([0, 1, 2]);
    expect(report.totals.find((t: { stream: string }) => t.stream === TOPOLOGY.OrderPlaced.stream)).toMatchObject({ partitions: 3, length: 30, pending: 0 });
  });

  it('replay a dead letter onto the very partition it came from', async () => {
    // An event for an order that does not exist yet, on partition 2: dead-lettered there.
    const orderId = Bun.randomUUIDv7();
    const partition = partitionOf(orderId, PARTITIONS);
    const event = Events.orderPlaced.create(
      { orderId },
      `ops-${orderId}`,
    );
    const source = streamKey(pipeline.prefix, TOPOLOGY.OrderPlaced.stream, partition);
    await pipeline.admin.xadd(source, '*', ...recordToFields(Events.orderPlaced.toFields(event)));
    const letterKey = streamKey(pipeline.prefix, TOPOLOGY.OrderPlaced.deadLetterStream, partition);
    const letterId = await waitFor(async () => ((await pipeline.admin.xrange(letterKey, '-', '+')) as [string, string[]][])[0]?.[0], {
      what: 'the dead letter on its partition',
    });
    const listed = await cli(['dlq', 'list', '--json']);
    expect(JSON.parse(listed.stdout).find((l: { id: string }) => l.id === letterId)).toMatchObject({ partition, originalStream: source });

    await fixMissingOrder(pipeline, orderId);
    const before = Number(await pipeline.admin.xlen(source));
    const replayed = await cli(['dlq', 'replay', letterId]);
    expect(replayed.code).toBe(0);
    expect(Number(await pipeline.admin.xlen(source))).toBe(before + 1);
    await waitFor(async () => (await pipeline.orderState(orderId)).status === 'paid', { what: 'the replayed order paid' });
  });
});
