import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { and, eq, sql } from 'drizzle-orm';
import { outbox } from '../../src/shared/db/schema.ts';
import { Events } from '../../src/shared/pipeline/events.ts';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { fieldsToRecord, recordToFields } from '../../src/shared/streams/stream-id.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

let pipeline: Pipeline;
let payment: RunningService;
let notify: RunningService;

beforeAll(async () => {
  pipeline = await createPipeline('delivery');
  payment = spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-1' }));
  notify = spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-1' }));
  await payment.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
  await notify.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
});
afterAll(async () => {
  await killAll();
  await pipeline.close();
});

async function entryFor(stream: string, orderId: string) {
  const entries = (await pipeline.admin.xrange(pipeline.key(stream), '-', '+')) as [string, string[]][];
  const found = entries.find(([, flat]) => flat.includes(orderId));
  return found && fieldsToRecord(found[1]);
}

describe('poison entries', () => {
  it('go to payment.dlq with the reason while good orders keep flowing', async () => {
    const before = await pipeline.placeOrder('before-poison@example.com');
    await pipeline.admin.xadd(pipeline.key(TOPOLOGY.OrderPlaced.stream), '*', 'garbage', 'yes', 'totalCents', 'lots');
    const ghost = Events.orderPlaced.create(
      { orderId: '01a212c4-0000-7000-8000-000000000000' },
      'req-ghost',
    );
    await pipeline.admin.xadd(pipeline.key(TOPOLOGY.OrderPlaced.stream), '*', ...recordToFields(Events.orderPlaced.toFields(ghost)));
    const after = await pipeline.placeOrder('after-poison@example.com');

    await pipeline.waitUntilSettled([before.id, after.id]);
    const letters = await waitFor(async () => {
      const found = await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream);
      return found.length === 2 && found;
    }, { what: 'two dead letters' });
    expect(letters[0]).toMatchObject({ originalStream: pipeline.key(TOPOLOGY.OrderPlaced.stream), group: TOPOLOGY.OrderPlaced.group, deliveries: '1' });
    expect(letters[0]!.error).toContain('OrderPlaced event invalid');
    expect(JSON.parse(letters[0]!.fields!)).toEqual({ garbage: 'yes', totalCents: 'lots' });
    expect(letters[1]!.error).toContain(`order ${ghost.payload.orderId} does not exist`);
    await waitFor(async () => (await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)) === 0, { what: 'poison acknowledged' });
  });

  it('go to notify.dlq likewise', async () => {
    await pipeline.admin.xadd(pipeline.key(TOPOLOGY.CustomerEmail.stream), '*', 'type', 'PaymentCompleted', 'outcome', 'maybe');
    const [letter] = await waitFor(async () => {
      const found = await pipeline.deadLetters(TOPOLOGY.CustomerEmail.deadLetterStream);
      return found.length === 1 && found;
    }, { what: 'the notify dead letter' });
    expect(letter!.error).toContain('PaymentCompleted event invalid');
    const { id } = await pipeline.placeOrder('after-notify-poison@example.com');
    await pipeline.waitUntilSettled([id]);
  });
});

describe('replayed events', () => {
  it('change nothing: no second charge, outcome, event or notification', async () => {
    const { id } = await pipeline.placeOrder('replay@example.com');
    await pipeline.waitUntilSettled([id]);
    const settled = await pipeline.orderState(id);
    expect(settled).toEqual({ status: 'paid', charges: 1, attempts: 1, notifications: 1 });

    const placed = (await entryFor(TOPOLOGY.OrderPlaced.stream, id))!;
    const completed = (await entryFor(TOPOLOGY.CustomerEmail.stream, id))!;
    for (let i = 0; i < 3; i++) {
      await pipeline.admin.xadd(pipeline.key(TOPOLOGY.OrderPlaced.stream), '*', ...recordToFields(placed));
      await pipeline.admin.xadd(pipeline.key(TOPOLOGY.CustomerEmail.stream), '*', ...recordToFields(completed));
    }
    await payment.waitForLine((l) => l.order_id === id && l.msg === 'payment already recorded; nothing to do', 'the replay to be ignored');
    await notify.waitForLine((l) => l.order_id === id && l.msg === 'already delivered; nothing to do', 'the replay to be ignored');
    await waitFor(
      async () => (await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)) + (await pipeline.pending(TOPOLOGY.CustomerEmail.stream, TOPOLOGY.CustomerEmail.group)) === 0,
      { what: 'replays acknowledged' },
    );

    expect(await pipeline.orderState(id)).toEqual(settled);
    const events = await pipeline.db.select().from(outbox).where(and(eq(outbox.orderId, id), eq(outbox.eventType, 'PaymentCompleted')));
    expect(events).toHaveLength(1);
    // The e-mail is logged after its commit: wait for it, then make sure the replay added none, at the mail server too.
    await notify.waitForLine((l) => l.order_id === id && l.msg === 'delivered', 'the e-mail');
    const notices = notify.lines.filter((l) => l.order_id === id && l.msg === 'delivered');
    expect(notices).toHaveLength(1);
    expect(pipeline.system.mail.accepted.filter((mail) => mail.to.includes('replay@example.com'))).toHaveLength(1);
  });
});

describe('several copies of a worker', () => {
  it('share the work through the consumer group, each order charged once', async () => {
    const second = spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-2', GATEWAY_LATENCY_MS: '20' }));
    await second.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push((await pipeline.placeOrder(`copies-${i}@example.com`)).id);
    await pipeline.waitUntilSettled(ids);

    const handledBy = (service: RunningService) => service.lines.filter((l) => l.msg === 'payment recorded' && ids.includes(String(l.order_id))).length;
    // Each line is logged after its commit, so the last ones can trail the settled rows.
    await waitFor(() => handledBy(payment) + handledBy(second) >= 60, { what: "60 'payment recorded' lines" });
    expect(handledBy(payment)).toBeGreaterThan(0);
    expect(handledBy(second)).toBeGreaterThan(0);
    expect(handledBy(payment) + handledBy(second)).toBe(60);
    const [dupes] = await pipeline.db.execute<{ n: number }>(
      sql`select count(*)::int as n from (select idempotency_key from gateway_charges group by 1 having count(*) > 1) d`,
    );
    expect(dupes!.n).toBe(0);
    await second.stop();
  });
});
