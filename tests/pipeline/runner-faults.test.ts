import { afterAll, afterEach, describe, expect, it } from 'bun:test';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';
import { postJson } from '../helpers/app.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { healthPort, killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { freePort, TEST_REDIS_URL } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(120_000);

/**
 * Fault combinations found from outside with real processes, each a regression test for the
 * runner (src/shared/streams/): a network path that goes silent, replicas sharing a backlog
 * after one of them is SIGKILLed, and replicas whose gateway is slower than CLAIM_IDLE_MS.
 */
const pipelines: Pipeline[] = [];
async function newPipeline(label: string) {
  const pipeline = await createPipeline(label);
  pipelines.push(pipeline);
  return pipeline;
}
afterEach(() => killAll());
afterAll(() => Promise.all(pipelines.map((p) => p.close())));

const health = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

describe('a Redis path that silently drops packets', () => {
  it('cannot hang a worker or the relay: commands time out, /health says why, and both recover when the path is back', async () => {
    const pipeline = await newPipeline('silent_path');
    // Only the spawned API publishes: the test's own relay would reach Redis directly.
    await pipeline.relay.stop();
    const target = new URL(TEST_REDIS_URL);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    try {
      const env = (extra: Record<string, string>) =>
        pipeline.env({ REDIS_URL: proxy.url(target.pathname || '/0'), REDIS_COMMAND_TIMEOUT_MS: '500', RELAY_INTERVAL_MS: '200', ...extra });
      const apiPort = await freePort();
      const api = spawnService('api', env({ PORT: String(apiPort) }));
      const payment = spawnService('payment', env({ CONSUMER_NAME: 'payment-silent' }));
      spawnService('notify', env({ CONSUMER_NAME: 'notify-silent' }));
      const paymentPort = await healthPort(payment);
      await waitFor(async () => (await health(paymentPort)).status === 200, { what: 'the payment worker healthy', timeoutMs: 20_000 });
      await api.waitForLine((l) => l.msg === 'api listening', 'the api to listen');

      const place = async (email: string) => {
        const res = await fetch(`http://127.0.0.1:${apiPort}/orders`, postJson('/orders', { items: [{ menuItemId: 2, quantity: 1 }], customerEmail: email }));
        expect(res.status).toBe(201);
        return ((await res.json()) as { id: string }).id;
      };
      await pipeline.waitUntilSettled([await place('before@example.com')]);

      proxy.setBlackhole(true);
      // Taken while the path is silent: committed to PostgreSQL, waiting in the outbox.
      const during = await place('during@example.com');
      const down = await waitFor(
        async () => {
          const report = await health(paymentPort);
          return report.status === 503 && report.body.consumer?.state === 'reconnecting' ? report : undefined;
        },
        { what: 'the payment worker to report the stuck Redis path', timeoutMs: 20_000 },
      );
      expect(down.body.checks.consumer).toBe('error');
      expect(String(down.body.consumer.lastError)).toMatch(/timed out|timeout/i);

      proxy.setBlackhole(false);
      // The silent sockets are given up and new ones opened: the order taken meanwhile is paid and notified.
      await pipeline.waitUntilSettled([during], 30_000);
      await waitFor(async () => (await health(paymentPort)).status === 200, { what: 'the payment worker healthy again', timeoutMs: 20_000 });
      expect(await pipeline.orderState(during)).toEqual({ status: 'paid', charges: 1, attempts: 1, notifications: 1 });
    } finally {
      proxy.stop();
    }
  });
});

describe('replicas of a worker after one of them is SIGKILLed', () => {
  it('share the backlog: no consumer ever holds more than concurrency + batch entries', async () => {
    const pipeline = await newPipeline('share_backlog');
    const CONCURRENCY = 4;
    const BATCH = 10;
    const settings = { PAYMENT_CONCURRENCY: String(CONCURRENCY), CONSUMER_BATCH_SIZE: String(BATCH), GATEWAY_LATENCY_MS: '150', CLAIM_IDLE_MS: '800' };
    const stream = pipeline.key(TOPOLOGY.OrderPlaced.stream);
    const group = TOPOLOGY.OrderPlaced.group;

    // A backlog first, so there is far more waiting than any one consumer may take.
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) ids.push((await pipeline.placeOrder(`backlog-${i}@example.com`)).id);
    await pipeline.relay.kick();
    await waitFor(async () => (await pipeline.admin.xlen(stream)) >= 120, { what: 'the backlog on its stream' });

    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          const consumers = (await pipeline.admin.xinfo('CONSUMERS', stream, group)) as string[][];
          for (const raw of consumers) most = Math.max(most, Number(fieldsToRecord(raw.map(String)).pending));
        } catch {
          // No group yet.
        }
        await Bun.sleep(20);
      }
    })();

    spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-share' }));
    const doomed = spawnService('payment', pipeline.env({ ...settings, CONSUMER_NAME: 'payment-doomed' }));
    await waitFor(async () => (await pipeline.pending(TOPOLOGY.OrderPlaced.stream, group)) >= CONCURRENCY, { what: 'the doomed worker to hold entries' });
    await doomed.stop('SIGKILL');

    const survivors: RunningService[] = [
      spawnService('payment', pipeline.env({ ...settings, CONSUMER_NAME: 'payment-survivor-1' })),
      spawnService('payment', pipeline.env({ ...settings, CONSUMER_NAME: 'payment-survivor-2' })),
    ];
    try {
      await pipeline.waitUntilSettled(ids, 90_000);
    } finally {
      sampling = false;
      await sampler;
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(CONCURRENCY + BATCH);
    // Both survivors did part of the work, and one of them took over what the doomed one held.
    // Lines are logged after their commits: wait for them rather than read them the moment the rows settle.
    for (const survivor of survivors) await survivor.waitForLine((l) => l.msg === 'payment recorded', 'a payment of its own', 5_000);
    await waitFor(() => survivors.some((s) => s.lines.some((l) => l.msg === 'claimed entries left pending by another consumer')), {
      what: 'a survivor to log its takeover',
      timeoutMs: 5_000,
    });
    for (const id of ids) expect((await pipeline.orderState(id)).charges).toBe(1);
  });
});

describe('replicas of a worker whose gateway is slower than CLAIM_IDLE_MS', () => {
  it('never claim entries from each other: every order is paid by the replica that read it, in one attempt', async () => {
    const pipeline = await newPipeline('slow_gateway');
    // Each gateway call takes 0.5-1.5 × 2 s, a batch as long as its slowest call: every entry is held
    // (running, or read ahead behind a running batch) well past CLAIM_IDLE_MS by a replica that is alive.
    // CLAIM_IDLE_MS is not shorter: the keeper extends every third of it, and a replica whose event loop
    // stalls for two thirds of it (600 ms once, on a loaded CI machine) does look dead to the other.
    const settings = { PAYMENT_CONCURRENCY: '2', CONSUMER_BATCH_SIZE: '2', GATEWAY_LATENCY_MS: '2000', CLAIM_IDLE_MS: '1200' };
    const [replicaA, replicaB] = await Promise.all([
      pipeline.spawn('payment', { ...settings, CONSUMER_NAME: 'payment-slow-a' }),
      pipeline.spawn('payment', { ...settings, CONSUMER_NAME: 'payment-slow-b' }),
      pipeline.spawn('notify', { CONSUMER_NAME: 'notify-slow' }),
    ]);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await pipeline.placeOrder(`slow-${i}@example.com`)).id);
    await pipeline.relay.kick();
    await pipeline.waitUntilSettled(ids, 60_000);

    const claims = [replicaA!, replicaB!].flatMap((replica) =>
      replica.lines.filter((l) => l.msg === 'claimed entries left pending by another consumer').map((l) => `${l.consumer} claimed ${l.entries}`),
    );
    expect(claims).toEqual([]);
    for (const id of ids) expect(await pipeline.orderState(id)).toEqual({ status: 'paid', charges: 1, attempts: 1, notifications: 1 });
  });
});
