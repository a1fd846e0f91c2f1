import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(120_000);

/**
 * GATEWAY_RATE_LIMIT_PER_S with real processes: three payment workers share one limit (one GCRA key in
 * Redis), so together they stay under it, which is what a provider's per-account limit asks. Checked from
 * the outside, on the mock gateway's own ledger (gateway_charges, one row per call that charged).
 */
const RATE_PER_S = 20;
/** The workers' burst: ceil(rate), see src/payment/worker.ts. */
const BURST = Math.ceil(RATE_PER_S);
const ORDERS = 120;
const WORKERS = 3;

let pipeline: Pipeline;
const workers: RunningService[] = [];

beforeAll(async () => {
  pipeline = await createPipeline('rate_limit', { relayIntervalMs: 50 });
  for (let i = 0; i < WORKERS; i++) {
    workers.push(
      spawnService(
        'payment',
        pipeline.env({
          CONSUMER_NAME: `payment-limited-${i}`,
          GATEWAY_RATE_LIMIT_PER_S: String(RATE_PER_S),
          // Few orders in hand per worker, so all three keep asking the limiter, not the first to read.
          PAYMENT_CONCURRENCY: '8',
          CONSUMER_BATCH_SIZE: '4',
          // The wait for the limiter is inside the call's timeout (mock-gateway.ts): room for a backlog of ORDERS / RATE_PER_S seconds.
          GATEWAY_TIMEOUT_MS: '60000',
        }),
      ),
    );
  }
  for (const worker of workers) await worker.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
});
afterAll(async () => {
  await killAll();
  await pipeline.close();
});

/** The most elements of sorted `times` (ms) within any window [t, t + windowMs]. */
function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  let from = 0;
  for (let to = 0; to < times.length; to++) {
    while (times[to]! - times[from]! > windowMs) from++;
    most = Math.max(most, to - from + 1);
  }
  return most;
}

describe('three payment workers under one GATEWAY_RATE_LIMIT_PER_S', () => {
  it('together call the gateway no faster than the limit (plus its burst) in any 1 s, and pay every order once', async () => {
    // Placed far faster than 20/s (concurrently), so the limit, not the arrivals, sets the pace.
    const ids: string[] = [];
    for (let from = 0; from < ORDERS; from += 20) {
      const placed = await Promise.all(Array.from({ length: 20 }, (_, i) => pipeline.placeOrder(`limited-${from + i}@example.com`)));
      ids.push(...placed.map((order) => order.id));
    }

    await waitFor(
      async () => {
        const [row] = await pipeline.db.execute<{ n: number }>(sql`select count(*)::int as n from orders where status = 'processing'`);
        return row!.n === 0;
      },
      { what: `${ORDERS} orders decided`, timeoutMs: 60_000 },
    );
    const orders = await pipeline.db.execute<{ status: string; charges: number; attempts: number }>(sql`
      select o.status::text as status,
             (select count(*)::int from gateway_charges c where c.idempotency_key = o.id::text) as charges,
             (select count(*)::int from payment_attempts p where p.order_id = o.id) as attempts
      from orders o where o.id = any(${sql.param(ids)}::uuid[])`);
    expect(orders).toHaveLength(ORDERS);
    for (const order of orders) expect(order).toEqual({ status: 'paid', charges: 1, attempts: 1 });
    expect(await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).toEqual([]);

    // GCRA lets BURST calls go at once, then one every 1/RATE s: at most BURST + RATE calls in any 1 s.
    // The ledger stamps a call when its insert starts (PostgreSQL's clock), a few ms after the limiter let
    // it go, later still when the machine is busy (the first calls of a cold worker by some 150 ms; on a
    // CI machine running the suite, once, 52 calls in a window where 500 ms of skew allows 50): a call let
    // go up to SKEW_MS before a window can be stamped inside it. (Without the limit, the three made 98 of
    // the 120 calls within one second, as fast as the orders came: both checks below still fail.)
    const SKEW_MS = 1000;
    const stamps = await pipeline.db.execute<{ ms: number }>(sql`select (extract(epoch from created_at) * 1000)::float8 as ms from gateway_charges order by created_at`);
    const times = stamps.map((row) => Number(row.ms));
    expect(times).toHaveLength(ORDERS);
    expect(busiestWindow(times, 1000)).toBeLessThanOrEqual(BURST + Math.floor((RATE_PER_S * (1000 + SKEW_MS)) / 1000));
    // The same bound over the whole run: after the burst, one call per 1/RATE s.
    const spanMs = times.at(-1)! - times[0]!;
    expect(spanMs).toBeGreaterThanOrEqual(((ORDERS - BURST) / RATE_PER_S) * 1000 - SKEW_MS);

    // And the three shared it: each made some of the calls.
    for (const worker of workers) expect(worker.lines.filter((line) => line.msg === 'payment recorded').length).toBeGreaterThan(0);
    expect(workers.reduce((sum, worker) => sum + worker.lines.filter((line) => line.msg === 'payment recorded').length, 0)).toBe(ORDERS);
  });
});
