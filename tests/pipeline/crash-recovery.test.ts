import { afterAll, afterEach, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

let pipeline: Pipeline;
let notify: RunningService;

beforeAll(async () => {
  pipeline = await createPipeline('crash');
});
afterEach(() => killAll());
afterAll(() => pipeline.close());

function startNotify() {
  notify = spawnService('notify', pipeline.env({ CONSUMER_NAME: `notify-${Math.random().toString(36).slice(2, 6)}` }));
  return notify;
}

function startPayment(name: string, extra: Record<string, string> = {}) {
  return spawnService('payment', pipeline.env({ CONSUMER_NAME: name, ...extra }));
}

const started = (service: RunningService) => service.waitForLine((l) => l.msg === 'consumer started', 'consumer started');

describe('a payment worker killed with SIGKILL mid-batch', () => {
  it('has its entries finished by another worker, each order charged exactly once', async () => {
    startNotify();
    const doomed = startPayment('payment-doomed', { GATEWAY_LATENCY_MS: '400', PAYMENT_CONCURRENCY: '8' });
    await started(doomed);

    const orderIds: string[] = [];
    for (let i = 0; i < 16; i++) orderIds.push((await pipeline.placeOrder(`batch-${i}@example.com`)).id);

    // Kill it while it holds a full batch of unacknowledged entries, some charged, some not.
    await waitFor(async () => (await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)) >= 8, { what: 'the doomed worker to take a batch' });
    expect(await doomed.stop('SIGKILL')).not.toBe(0);
    const [midway] = await pipeline.db.execute<{ charged: number; recorded: number }>(
      sql`select (select count(*)::int from gateway_charges) as charged, (select count(*)::int from payment_attempts) as recorded`,
    );
    expect(midway!.recorded).toBeLessThan(16);

    const rescuer = startPayment('payment-rescuer');
    await pipeline.waitUntilSettled(orderIds);
    await rescuer.waitForLine((l) => l.msg === 'claimed entries left pending by another consumer', 'claiming the dead worker’s entries');

    for (const id of orderIds) {
      expect(await pipeline.orderState(id)).toEqual({ status: 'paid', charges: 1, attempts: 1, notifications: 1 });
    }
    await waitFor(async () => (await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)) === 0, { what: 'no pending entries' });
  });
});

describe('a crash injected at each step of a payment', () => {
  const expectations = {
    'before-charge': { charges: 0, attempts: 0 },
    'after-charge': { charges: 1, attempts: 0 },
    'after-commit': { charges: 1, attempts: 1 },
  } as const;

  for (const [point, atCrash] of Object.entries(expectations)) {
    it(`ends with exactly one charge and one outcome when the worker dies ${point.replace('-', ' ')}`, async () => {
      startNotify();
      const crashing = startPayment(`payment-crash-${point}`, { CRASH_AT: point });
      await started(crashing);
      const { id } = await pipeline.placeOrder(`crash-${point}@example.com`);

      await crashing.proc.exited;
      expect(crashing.proc.signalCode).toBe('SIGKILL');
      const atDeath = await pipeline.orderState(id);
      expect({ charges: atDeath.charges, attempts: atDeath.attempts }).toEqual(atCrash);
      // Its entry is still pending: nobody acknowledged it.
      expect(await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)).toBe(1);

      startPayment(`payment-after-${point}`);
      await pipeline.waitUntilSettled([id]);
      expect(await pipeline.orderState(id)).toEqual({ status: 'paid', charges: 1, attempts: 1, notifications: 1 });
      await waitFor(async () => (await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)) === 0, { what: 'the entry acknowledged' });
    });
  }
});

describe('graceful shutdown', () => {
  it('finishes the payment in flight, acknowledges it and exits 0 on SIGTERM', async () => {
    startNotify();
    const worker = startPayment('payment-graceful', { GATEWAY_LATENCY_MS: '600' });
    await started(worker);
    const { id } = await pipeline.placeOrder('graceful@example.com');
    await waitFor(async () => (await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)) === 1, { what: 'the worker to take the order' });

    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(worker.lines.find((l) => l.msg === 'consumer stopped')).toMatchObject({ unfinished: 0 });
    expect((await pipeline.orderState(id)).status).toBe('paid');
    expect(await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)).toBe(0);
  });

  it('reaches the service through `bun run payment`, which passes SIGTERM on', async () => {
    const viaScript = spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-bun-run' }), [process.execPath, 'run', 'payment']);
    await started(viaScript);
    expect(await viaScript.stop('SIGTERM')).toBe(0);
    expect(viaScript.lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM')).toBe(true);
    expect(viaScript.lines.at(-1)?.msg).toBe('stopped');
  });
});
