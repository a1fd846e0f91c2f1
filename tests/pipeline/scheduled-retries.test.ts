import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { isFlaky } from '../../src/payment/mock-gateway.ts';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { retryBacklog } from '../../src/shared/streams/delayed-retries.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

/**
 * Issue 20's "shows it works", with a real payment worker process: every 5th order's issuer times out for
 * its first three calls. Each failed attempt waits in Redis for the next step of the schedule, and every
 * order ends paid, none dead-lettered, each charged once.
 */
let pipeline: Pipeline;
let payment: RunningService;
let notify: RunningService;

beforeAll(async () => {
  pipeline = await createPipeline('scheduled_retries', { relayIntervalMs: 50 });
  payment = spawnService(
    'payment',
    pipeline.env({
      CONSUMER_NAME: 'payment-scheduled',
      GATEWAY_ERROR_RATE: '0',
      GATEWAY_DECLINE_RATE: '0',
      GATEWAY_FLAKY_EVERY: '5',
      GATEWAY_FLAKY_CALLS: '3',
      // One call per attempt, so the schedule counts the issuer's failures one by one.
      RETRY_MAX_ATTEMPTS: '1',
      PAYMENT_RETRY_SCHEDULE_MS: '200,300,400,500',
      // More failures in a row than any flaky order makes: the breaker stays closed and nothing pauses.
      BREAKER_FAILURE_THRESHOLD: '100',
    }),
  );
  notify = spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-scheduled' }));
  await payment.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
  await notify.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
});
afterAll(async () => {
  await killAll();
  await pipeline.close();
});

describe('payments whose issuer times out for a while', () => {
  it('end paid through the retry schedule: none dead-lettered, each charged once, the others not held up', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await pipeline.placeOrder(`scheduled-${i}@example.com`)).id);
    const flaky = ids.filter((id) => isFlaky(id, 5));
    // About one in five; with 40 random ids, at least one is all but certain, and the test needs one.
    expect(flaky.length).toBeGreaterThan(0);

    await pipeline.waitUntilSettled(ids, 45_000);
    const rows = await pipeline.db.execute<{ id: string; status: string; charges: number }>(sql`
      select o.id, o.status::text as status, (select count(*)::int from gateway_charges c where c.idempotency_key = o.id::text) as charges
      from orders o where o.id = any(${sql.param(ids)}::uuid[])`);
    expect(rows).toHaveLength(ids.length);
    for (const row of rows) expect(row).toMatchObject({ status: 'paid', charges: 1 });
    expect(await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).toEqual([]);

    // Each flaky order failed three attempts, each waiting its step of the schedule in Redis.
    const waits = payment.lines.filter((line) => line.msg === 'handler failed; the entry waits for its next attempt');
    for (const id of flaky) expect(waits.filter((line) => line.order_id === id).map((line) => line.attempt)).toEqual([1, 2, 3]);
    expect(waits.every((line) => flaky.includes(line.order_id as string))).toBe(true);
    // While they waited, PostgreSQL knew (the reconciler leaves such orders alone); the others never waited.
    const marked = await pipeline.db.execute<{ id: string }>(sql`select id from orders where id = any(${sql.param(ids)}::uuid[]) and payment_retry_until is not null`);
    expect(marked.map((row) => row.id).toSorted()).toEqual(flaky.toSorted());
  });

  it('come back on time after the worker was SIGKILLed while 100 of them waited', async () => {
    const env = pipeline.env({
      CONSUMER_NAME: 'payment-killed',
      GATEWAY_ERROR_RATE: '0',
      GATEWAY_DECLINE_RATE: '0',
      // Every order's first call fails, so every order waits for the schedule's 4 s step.
      GATEWAY_FLAKY_EVERY: '1',
      GATEWAY_FLAKY_CALLS: '1',
      RETRY_MAX_ATTEMPTS: '1',
      PAYMENT_RETRY_SCHEDULE_MS: '4000',
      BREAKER_FAILURE_THRESHOLD: '1000',
    });
    await payment.stop('SIGTERM');
    const doomed = spawnService('payment', env);
    await doomed.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push((await pipeline.placeOrder(`killed-${i}@example.com`)).id);
    const key = pipeline.key(TOPOLOGY.OrderPlaced.stream);
    await waitFor(
      async () => {
        const backlog = await retryBacklog(pipeline.admin, { stream: key, group: TOPOLOGY.OrderPlaced.group });
        return backlog.waiting === 100 && backlog;
      },
      { what: 'all 100 orders to wait for their retry', timeoutMs: 20_000 },
    );
    // Killed while they wait: nothing of them is in the worker, all of it is in Redis.
    await doomed.stop('SIGKILL');
    expect(await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)).toBe(0);

    // A new worker (the flaky issuer's memory went with the old one: it would fail each order's first call again).
    const revived = spawnService('payment', { ...env, CONSUMER_NAME: 'payment-revived', GATEWAY_FLAKY_EVERY: '0' });
    await pipeline.waitUntilSettled(ids, 30_000);
    const paid = await pipeline.db.execute<{ status: string; waited_ms: number; charges: number }>(sql`
      select o.status::text as status, (extract(epoch from p.created_at - o.created_at) * 1000)::float8 as waited_ms,
             (select count(*)::int from gateway_charges c where c.idempotency_key = o.id::text) as charges
      from orders o join payment_attempts p on p.order_id = o.id where o.id = any(${sql.param(ids)}::uuid[])`);
    expect(paid).toHaveLength(100);
    for (const row of paid) {
      expect(row).toMatchObject({ status: 'paid', charges: 1 });
      // On time: never before its step (4 s, jittered down to 3.2 s at most).
      expect(row.waited_ms).toBeGreaterThanOrEqual(3200);
    }
    expect(revived.lines.filter((line) => line.msg === 'payment recorded')).toHaveLength(100);
  });
});
