import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { park } from '../../src/shared/streams/delayed-retries.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService } from '../helpers/processes.ts';
import { runCli } from '../helpers/cli.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { deadLetterAnOrder, fixMissingOrder } from './dead-letter-helpers.ts';

allowSlowTests();

let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await createPipeline('ops_cli');
  spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-ops' }));
  spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-ops' }));
});
afterAll(async () => {
  await killAll();
  await pipeline.close();
});

function cli(args: string[], env: Record<string, string> = {}) {
  return runCli(args, { DATABASE_URL: pipeline.url, REDIS_URL: pipeline.env().REDIS_URL!, STREAM_PREFIX: pipeline.prefix, ...env });
}

describe('bun run streams', () => {
  it('shows per group the entries waiting to retry, when the next is due and since when the oldest waits, and the total per stream', async () => {
    // A real entry of this pipeline's stream, delivered to the payment group's own consumer name, parked as the consumer would park it.
    const key = pipeline.key(TOPOLOGY.OrderPlaced.stream);
    const id = (await pipeline.admin.xadd(key, '*', 'n', 'retry-me')) as string;
    await pipeline.admin.xgroup('CREATE', key, 'cli-retries', '0').catch(() => undefined);
    await pipeline.admin.xreadgroup('GROUP', 'cli-retries', 'cli-consumer', 'COUNT', 1000, 'STREAMS', key, '>');
    const firstFailedAt = Date.now() - 60_000;
    const dueAt = Date.now() + 3_600_000;
    try {
      expect(await park(pipeline.admin, { stream: key, group: 'cli-retries', id, fields: { n: 'retry-me' }, attempt: 2, firstFailedAt, history: [{ at: firstFailedAt, reason: '503' }, { at: Date.now(), reason: '503' }], dueAt })).toBe(true);
      const { code, stdout } = await cli(['streams', '--json']);
      expect(code).toBe(0);
      const report = JSON.parse(stdout);
      const placed = report.streams.find((s: { stream: string }) => s.stream === 'orders.placed');
      const waiting = placed.groups.find((g: { name: string }) => g.name === 'cli-retries');
      expect(waiting.retries).toEqual({ waiting: 1, nextDueAt: new Date(dueAt).toISOString(), oldestSince: new Date(firstFailedAt).toISOString() });
      const table = await cli(['streams']);
      expect(table.stdout).toContain('RETRYING');
      expect(table.stdout).toContain(new Date(dueAt).toISOString());
    } finally {
      await pipeline.admin.xgroup('DESTROY', key, 'cli-retries');
      await pipeline.admin.xdel(key, id);
    }
  });

  it('reports streams, groups, consumers, pending, dead letters and the outbox, as JSON for scripts', async () => {
    const { id } = await pipeline.placeOrder('streams@example.com');
    await pipeline.waitUntilSettled([id]);
    const { code, stdout } = await cli(['streams', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    const placed = report.streams.find((s: { stream: string }) => s.stream === 'orders.placed');
    expect(placed.key).toBe(pipeline.key(TOPOLOGY.OrderPlaced.stream));
    expect(placed.length).toBeGreaterThan(0);
    expect(placed.groups[0]).toMatchObject({ name: TOPOLOGY.OrderPlaced.group, pending: 0, lag: 0 });
    expect(placed.groups[0].consumers.map((c: { name: string }) => c.name)).toContain('payment-ops');
    expect(report.deadLetters.map((d: { stream: string }) => d.stream)).toEqual(['payment.dlq', 'notify.dlq', 'webhook.dlq']);
    expect(report.outbox).toEqual({ unpublished: 0, oldestUnpublishedAgeMs: null });
    // The order's e-mail went out: nothing waits or failed on either channel.
    expect(report.deliveries).toEqual([
      { channel: 'email', waiting: 0, failed: 0, oldestWaitingSince: null },
      { channel: 'webhook', waiting: 0, failed: 0, oldestWaitingSince: null },
    ]);
  });

  it('prints a table for people', async () => {
    const { code, stdout } = await cli(['streams']);
    expect(code).toBe(0);
    expect(stdout).toContain('STREAM');
    expect(stdout).toContain(pipeline.key(TOPOLOGY.CustomerEmail.stream));
    expect(stdout).toContain('notify-email');
    expect(stdout).toMatch(/^deliveries: email 0 waiting, 0 failed; webhook 0 waiting, 0 failed$/m);
    expect(stdout).toMatch(/outbox: \d+ unpublished/);
  });
});

describe('bun run dlq', () => {
  it('lists and shows a dead letter with its reason', async () => {
    const { orderId, letterId } = await deadLetterAnOrder(pipeline);
    const list = await cli(['dlq', 'list', '--json']);
    expect(list.code).toBe(0);
    const entry = JSON.parse(list.stdout).find((e: { id: string }) => e.id === letterId);
    expect(entry).toMatchObject({ deadLetterStream: 'payment.dlq', originalStream: pipeline.key(TOPOLOGY.OrderPlaced.stream), group: TOPOLOGY.OrderPlaced.group });
    expect(entry.error).toContain(`order ${orderId} does not exist`);

    const show = await cli(['dlq', 'show', letterId]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout).fields.orderId).toBe(orderId);
  });

  it('replays an entry to its stream, so the order moves on once its cause is fixed', async () => {
    const { orderId, letterId } = await deadLetterAnOrder(pipeline);
    // The cause: the order was missing. Fix it, then replay.
    await fixMissingOrder(pipeline, orderId);

    const dry = await cli(['dlq', 'replay', letterId, '--dry-run']);
    expect(dry.stdout).toContain('would replay');
    expect((await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).some((l) => l.id === letterId)).toBe(true);

    const replay = await cli(['dlq', 'replay', letterId]);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain(`replayed ${letterId}`);
    await pipeline.waitUntilSettled([orderId]);
    expect(await pipeline.orderState(orderId)).toEqual({ status: 'paid', charges: 1, attempts: 1, notifications: 1 });
    expect((await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).some((l) => l.id === letterId)).toBe(false);
  });

  it('purges only with --yes', async () => {
    const { letterId } = await deadLetterAnOrder(pipeline);
    const refused = await cli(['dlq', 'purge', letterId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--yes');
    expect((await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).some((l) => l.id === letterId)).toBe(true);

    const purged = await cli(['dlq', 'purge', letterId, '--yes']);
    expect(purged.code).toBe(0);
    expect((await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).some((l) => l.id === letterId)).toBe(false);

    await deadLetterAnOrder(pipeline);
    const all = await cli(['dlq', 'purge', '--all', '--yes']);
    expect(all.stdout).toMatch(/^[1-9]\d* purged/m);
    expect(await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).toEqual([]);
  });

  it('says clearly when an id is unknown, a stream is wrong, or Redis is not there', async () => {
    const unknown = await cli(['dlq', 'show', '12345-0']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No dead-lettered entry with id 12345-0');

    const badStream = await cli(['dlq', 'list', 'orders.placed']);
    expect(badStream.code).toBe(1);
    expect(badStream.stderr).toContain('Unknown dead-letter stream "orders.placed"');

    const usage = await cli(['dlq', 'explode']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage:');

    const down = await cli(['dlq', 'list'], { REDIS_URL: 'redis://127.0.0.1:1/0' });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('Cannot reach Redis at redis://127.0.0.1:1/0');
    expect(down.stderr).not.toMatch(/\n\s+at /);
  });
});
