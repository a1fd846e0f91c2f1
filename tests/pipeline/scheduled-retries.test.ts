import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { isFlaky } from '../../src/payment/gateway.ts';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
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
  });
});
