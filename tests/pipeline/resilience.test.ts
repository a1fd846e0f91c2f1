import { afterAll, afterEach, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { paymentWorker } from '../../src/payment/worker.ts';
import { loadConfig } from '../../src/shared/runtime/config.ts';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createMetricsRegistry } from '../../src/shared/runtime/metrics.ts';
import { createRedis } from '../../src/shared/runtime/redis.ts';
import { createWorker } from '../../src/shared/worker/run-worker.ts';
import { get, readJson } from '../helpers/app.ts';
import { captureLines } from '../helpers/log-capture.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { healthPort, killAll, spawnService } from '../helpers/processes.ts';
import { freePort, startPrivateRedis } from '../helpers/redis.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await killAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => killAll());

async function unpublished(pipeline: Pipeline) {
  const [row] = await pipeline.db.execute<{ n: number }>(sql`select count(*)::int as n from outbox where published_at is null`);
  return row!.n;
}

describe('Redis down while orders are placed', () => {
  it('still answers 201, reports unhealthy, and pays the orders once Redis is back, untouched', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.destroy());
    const pipeline = await createPipeline('redis_down', { redisUrl: redis.url });
    cleanups.push(() => pipeline.close());
    const payment = spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-outage' }));
    spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-outage' }));
    const first = await pipeline.placeOrder('before-outage@example.com');
    await pipeline.waitUntilSettled([first.id]);

    await redis.stop();
    const port = await healthPort(payment);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 503, { what: 'the worker to report unhealthy' });
    const workerHealth = await readJson(await fetch(`http://127.0.0.1:${port}/health`));
    expect(workerHealth.checks.redis).toBe('error');
    const apiHealth = await pipeline.app.handle(get('/health'));
    expect(apiHealth.status).toBe(503);
    expect((await readJson(apiHealth)).checks).toEqual({ postgres: 'ok', redis: 'error' });

    const during = [await pipeline.placeOrder('outage-1@example.com'), await pipeline.placeOrder('outage-2@example.com')];
    expect(await unpublished(pipeline)).toBe(2);
    for (const { id } of during) expect((await pipeline.orderState(id)).status).toBe('processing');

    // Back, and empty: no persistence, so streams and groups are gone too.
    await redis.start();
    await pipeline.waitUntilSettled(during.map((order) => order.id), 30_000);
    for (const { id } of during) expect(await pipeline.orderState(id)).toEqual({ status: 'paid', charges: 1, attempts: 1, notifications: 1 });
    expect(await unpublished(pipeline)).toBe(0);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, { what: 'the worker healthy again' });
  });
});

describe('Redis losing everything (FLUSHALL) while orders are in flight', () => {
  it('still gets every order to its final state, notified exactly once, through the reconciler', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.destroy());
    const pipeline = await createPipeline('flushall', { redisUrl: redis.url });
    cleanups.push(() => pipeline.close());
    const apiPort = await freePort();
    const timings = { RECONCILE_AFTER_MS: '1500', CLAIM_IDLE_MS: '1000' };
    const api = spawnService('api', pipeline.env({ PORT: String(apiPort), ...timings }));
    await api.waitForLine((l) => l.msg === 'api listening', 'listening');
    // A slow payment worker that takes one order at a time, and no notify worker yet: when Redis is
    // wiped, most orders.placed entries are unread and every payment.completed entry is.
    const payment = spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-flush', GATEWAY_LATENCY_MS: '150', PAYMENT_CONCURRENCY: '1', CONSUMER_BATCH_SIZE: '1', ...timings }));
    await payment.waitForLine((l) => l.msg === 'consumer started', 'consumer started');

    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`http://127.0.0.1:${apiPort}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items: [{ menuItemId: 2, quantity: 1 }], customerEmail: `flush-${i}@example.com` }),
      });
      expect(res.status).toBe(201);
      ids.push((await readJson(res)).id);
    }
    const paidCount = async () =>
      (await pipeline.db.execute<{ n: number }>(sql`select count(*)::int as n from orders where status <> 'processing'`))[0]!.n;
    await waitFor(async () => (await paidCount()) >= 3, { what: 'a few orders paid' });
    await pipeline.admin.flushall();
    expect(await paidCount()).toBeLessThan(30);

    const notify = spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-flush', ...timings }));
    await pipeline.waitUntilSettled(ids, 60_000);
    for (const id of ids) expect(await pipeline.orderState(id)).toEqual({ status: 'paid', charges: 1, attempts: 1, notifications: 1 });
    const reemitted = api.lines.filter((l) => l.msg === 're-emitted events for stalled orders');
    expect(reemitted.reduce((sum, l) => sum + Number(l.orderPlaced), 0)).toBeGreaterThan(0);
    expect(reemitted.reduce((sum, l) => sum + Number(l.paymentCompleted), 0)).toBeGreaterThan(0);
    const noticesLogged = () => notify.lines.filter((l) => l.msg === 'delivered' && l.channel === 'email');
    await waitFor(() => noticesLogged().length >= 30, { what: '30 notices logged' });
    const notices = noticesLogged();
    expect(notices).toHaveLength(30);
    expect(new Set(notices.map((l) => l.order_id)).size).toBe(30);
  });
});

describe('the circuit breaker', () => {
  it('opens when the gateway keeps failing, holds orders in the stream instead of failing them, and closes after', async () => {
    const pipeline = await createPipeline('breaker');
    cleanups.push(() => pipeline.close());
    const config = loadConfig({
      ...pipeline.env(),
      BREAKER_FAILURE_THRESHOLD: '3',
      BREAKER_COOLDOWN_MS: '300',
      RETRY_MAX_ATTEMPTS: '2',
      PAYMENT_CONCURRENCY: '2',
      CONSUMER_NAME: 'payment-breaker',
    });
    const gateway = { latencyMs: 1, errorRate: 1, declineRate: 0 };
    const logs = captureLines();
    const log = createLogger({ service: 'payment', level: 'info', destination: logs.stream });
    const redis = createRedis(config.redisUrl, { connectionName: 'breaker-test', log });
    const blockingRedis = createRedis(config.redisUrl, { connectionName: 'breaker-test-read', log });
    const metrics = createMetricsRegistry('payment');
    const { consumer, parts } = createWorker(paymentWorker(config, { gatewaySettings: gateway }), { db: pipeline.db, redis, blockingRedis, log, metrics });
    cleanups.push(async () => {
      await consumer.stop(1000);
      await parts.stop?.();
      redis.disconnect();
      blockingRedis.disconnect();
    });
    void consumer.start();

    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await pipeline.placeOrder(`breaker-${i}@example.com`)).id);
    await waitFor(() => logs.lines.some((l) => l.msg === 'circuit breaker open'), { what: 'the breaker to open' });
    expect(parts.healthDetails?.()).toEqual({ breaker: 'open' });
    expect(await metrics.scrape()).toMatch(/^circuit_breaker_state\{service="payment"\} 2$/m);
    // Nobody is told their payment failed because the gateway was down.
    const [failed] = await pipeline.db.execute<{ n: number }>(sql`select count(*)::int as n from orders where status <> 'processing'`);
    expect(failed!.n).toBe(0);
    await waitFor(() => consumer.status().state === 'paused', { what: 'the consumer to hold off' });
    expect(await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).toEqual([]);

    gateway.errorRate = 0;
    await waitFor(() => logs.lines.some((l) => l.msg === 'circuit breaker closed'), { what: 'the breaker to close', timeoutMs: 15_000 });
    await waitFor(async () => {
      const [row] = await pipeline.db.execute<{ n: number }>(sql`select count(*)::int as n from orders where status = 'paid'`);
      return row!.n === 6;
    }, { what: 'all six orders paid', timeoutMs: 20_000 });
    expect(logs.lines.filter((l) => String(l.msg).startsWith('circuit breaker')).map((l) => l.msg)).toContain('circuit breaker half-open');
    const text = await metrics.scrape();
    expect(text).toMatch(/^circuit_breaker_state\{service="payment"\} 0$/m);
    expect(text).toMatch(/^payments_total\{outcome="succeeded",service="payment"\} 6$/m);
    expect(Number(text.match(/^gateway_errors_total\{service="payment"\} (\d+)$/m)?.[1])).toBeGreaterThanOrEqual(3);
    for (const id of ids) expect((await pipeline.orderState(id)).charges).toBe(1);
    await waitFor(async () => (await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)) === 0, { what: 'no pending entries' });
  });
});
