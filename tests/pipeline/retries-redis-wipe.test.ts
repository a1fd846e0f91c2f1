import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { isFlaky } from '../../src/payment/mock-gateway.ts';
import { Events } from '../../src/shared/pipeline/events.ts';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { retryBacklog } from '../../src/shared/streams/delayed-retries.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { freePort, startPrivateRedis } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(120_000);

/**
 * Redis wiped (FLUSHALL) while orders wait in the delayed set for their next scheduled payment attempt:
 * the entries are gone with it, but PostgreSQL still knows each order is unpaid, and marked when its wait
 * ends (orders.payment_retry_until). The reconciler, in a real API process, leaves the orders alone until
 * then and emits them again after; the payment worker charges each exactly once. On a Redis of this
 * file's own: the shared one is never flushed.
 */
const FLAKY_EVERY = 3;
const SCHEDULE_MS = 5000;

let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let pipeline: Pipeline;
let api: RunningService;
let payment: RunningService;

beforeAll(async () => {
  redis = await startPrivateRedis();
  pipeline = await createPipeline('retry_wipe', { redisUrl: redis.url, relayIntervalMs: 50 });
  // Short enough to find the lost orders soon after their wait, long enough not to copy an order the worker is on.
  api = spawnService('api', pipeline.env({ PORT: String(await freePort()), RECONCILE_AFTER_MS: '3000' }));
  payment = spawnService(
    'payment',
    pipeline.env({
      CONSUMER_NAME: 'payment-wiped',
      // Every 3rd order's first call fails; its second, whenever it comes, is charged.
      GATEWAY_FLAKY_EVERY: String(FLAKY_EVERY),
      GATEWAY_FLAKY_CALLS: '1',
      RETRY_MAX_ATTEMPTS: '1',
      // One step, long enough to wipe Redis while they wait; the worker marks each order for 1.2 x 5 s + 10 s.
      PAYMENT_RETRY_SCHEDULE_MS: String(SCHEDULE_MS),
      BREAKER_FAILURE_THRESHOLD: '1000',
    }),
  );
  await api.waitForLine((l) => l.msg === 'api listening', 'listening');
  await payment.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
});
afterAll(async () => {
  await killAll();
  await pipeline?.close();
  await redis?.destroy();
});

const key = () => pipeline.key(TOPOLOGY.OrderPlaced.stream);

describe('Redis wiped while payments wait for their next scheduled attempt', () => {
  it('loses none of them: the reconciler emits each again once its wait is over, and each is charged once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await pipeline.placeOrder(`wiped-${i}@example.com`)).id);
    const flaky = ids.filter((id) => isFlaky(id, FLAKY_EVERY));
    // About one in three of 30 random ids; none at all is a 1 in 200,000 chance.
    expect(flaky.length).toBeGreaterThan(0);

    // Every other order paid, the flaky ones waiting in Redis and marked in PostgreSQL. (A flaky order the
    // reconciler copied before its first attempt, on a machine slow enough, may be paid already: it then
    // does not count as waiting.)
    const waiting = await waitFor(
      async () => {
        const rows = await pipeline.db.execute<{ id: string; status: string; retry_until_ms: number | null }>(sql`
          select id, status::text as status, (extract(epoch from payment_retry_until) * 1000)::float8 as retry_until_ms
          from orders where id = any(${sql.param(ids)}::uuid[])`);
        const marked = rows.filter((row) => row.status === 'processing' && row.retry_until_ms !== null);
        const settled = rows.every((row) => row.status === 'paid' || (flaky.includes(row.id) && marked.includes(row)));
        const backlog = await retryBacklog(pipeline.admin, { stream: key(), group: TOPOLOGY.OrderPlaced.group });
        return settled && marked.length > 0 && backlog.waiting >= marked.length && new Map(marked.map((row) => [row.id, Number(row.retry_until_ms)]));
      },
      { what: `${ids.length - flaky.length} orders paid and the ${flaky.length} flaky ones waiting for their retry`, timeoutMs: 20_000 },
    );

    await pipeline.admin.flushall();
    expect((await retryBacklog(pipeline.admin, { stream: key(), group: TOPOLOGY.OrderPlaced.group })).waiting).toBe(0);

    // The worker marks each order for 1.2 x 5 s + 10 s: about 16 s, then up to a reconciler round and a payment.
    await waitFor(
      async () => {
        const [row] = await pipeline.db.execute<{ n: number }>(sql`select count(*)::int as n from orders where id = any(${sql.param(ids)}::uuid[]) and status = 'paid'`);
        return row!.n === ids.length;
      },
      { what: 'every order paid', timeoutMs: 60_000 },
    );
    const orders = await pipeline.db.execute<{ status: string; charges: number; attempts: number }>(sql`
      select o.status::text as status,
             (select count(*)::int from gateway_charges c where c.idempotency_key = o.id::text) as charges,
             (select count(*)::int from payment_attempts p where p.order_id = o.id) as attempts
      from orders o where o.id = any(${sql.param(ids)}::uuid[])`);
    for (const order of orders) expect(order).toEqual({ status: 'paid', charges: 1, attempts: 1 });
    expect(await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).toEqual([]);

    // Each lost order was emitted again by the reconciler, and not before its mark: a copy sooner would
    // have started its schedule over while the first was still waiting.
    const lost = [...waiting.keys()];
    const copies = await pipeline.db.execute<{ order_id: string; copies: number; first_copy_ms: number | null }>(sql`
      select order_id, count(*)::int - 1 as copies,
             (extract(epoch from (array_agg(created_at order by id))[2]) * 1000)::float8 as first_copy_ms
      from outbox where event_type = ${Events.orderPlaced.type} and order_id = any(${sql.param(lost)}::uuid[])
      group by order_id`);
    expect(copies).toHaveLength(lost.length);
    for (const row of copies) {
      expect(row.copies).toBeGreaterThanOrEqual(1);
      expect(Number(row.first_copy_ms)).toBeGreaterThanOrEqual(waiting.get(row.order_id)!);
    }
    const reemitted = api.lines.filter((l) => l.msg === 're-emitted events for stalled orders').reduce((sum, l) => sum + Number(l.orderPlaced), 0);
    expect(reemitted).toBeGreaterThanOrEqual(lost.length);
  });
});
