import { afterAll, afterEach, beforeAll, describe, expect, it } from 'bun:test';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { readJson } from '../helpers/app.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { freePort } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { startSandboxProcess, type SandboxProcess } from '../helpers/stripe-sandbox.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

const WEBHOOK_SECRET = 'whsec_pipeline_tests';
let pipeline: Pipeline;
let sandbox: SandboxProcess;
let apiUrl: string;
let apiEnv: Record<string, string>;

/**
 * The whole path for real: orders placed on a real API process, charged by real payment workers through
 * the official SDK at the sandbox (another process, over HTTP), whose webhooks come back to the API signed.
 */
beforeAll(async () => {
  pipeline = await createPipeline('stripe');
  const apiPort = await freePort();
  apiUrl = `http://127.0.0.1:${apiPort}`;
  sandbox = await startSandboxProcess({ STRIPE_SANDBOX_WEBHOOK_URL: `${apiUrl}/webhooks/stripe`, STRIPE_SANDBOX_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_SANDBOX_WEBHOOK_RETRY_MS: '100,200,500,1000,2000' });
  apiEnv = { PAYMENT_PROVIDER: 'stripe', STRIPE_API_URL: sandbox.url, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, PAYMENT_RETRY_SCHEDULE_MS: '300,600,1000,2000,4000' };
  spawnService('api', pipeline.env({ ...apiEnv, PORT: String(apiPort) }));
  await waitFor(() => fetch(`${apiUrl}/health`).then((res) => res.ok, () => false), { what: 'the API', timeoutMs: 20_000 });
});
// Workers go after each test (the API stays): a crash test's order must reach only its own workers.
const workers: RunningService[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop('SIGKILL')));
  await sandbox.setFaults([]);
});
afterAll(async () => {
  killAll();
  await sandbox?.stop();
  await pipeline?.close();
});

function startPayment(name: string, extra: Record<string, string> = {}) {
  const worker = spawnService('payment', pipeline.env({ ...apiEnv, CONSUMER_NAME: name, ...extra }));
  workers.push(worker);
  return worker;
}
const started = (service: RunningService) => service.waitForLine((l) => l.msg === 'consumer started', 'consumer started');

async function place(email: string, paymentMethodId?: string) {
  const res = await fetch(`${apiUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: email, ...(paymentMethodId ? { paymentMethodId } : {}) }),
  });
  expect(res.status).toBe(201);
  return (await readJson(res)).id as string;
}

/** Our record of an order and the provider's, side by side. */
async function both(orderId: string) {
  const [ours] = await pipeline.sql<{ status: string; outcomes: number; source: string | null; reason: string | null }[]>`
    select o.status::text, (select count(*)::int from payment_attempts p where p.order_id = o.id) as outcomes,
      (select source from payment_attempts p where p.order_id = o.id) as source, (select failure_reason from payment_attempts p where p.order_id = o.id) as reason
    from orders o where o.id = ${orderId}`;
  const intents = await sandbox.intentsOf(orderId);
  return { ...ours!, succeeded: intents.filter((i) => i.status === 'succeeded').length, unconfirmed: intents.filter((i) => i.status.startsWith('requires_')).length };
}

describe('payments through the Stripe SDK against a provider that misbehaves', () => {
  it('charges each order once, whatever the provider drops, fails or decides later, and records each outcome once', async () => {
    workers.push(spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-stripe' })));
    await Promise.all([started(startPayment('payment-stripe-1')), started(startPayment('payment-stripe-2'))]);
    await sandbox.setFaults([
      { fault: 'latency', ms: 20, jitterMs: 30 },
      { fault: 'drop_after', endpoints: ['confirm'], every: 5 },
      { fault: 'error_after', endpoints: ['create'], every: 7 },
      { fault: 'error_before', endpoints: ['retrieve', 'create'], every: 6 },
      { fault: 'processing', endpoints: ['confirm'], every: 4, delayMs: 400 },
    ]);
    const cards = ['pm_card_visa', 'pm_card_visa', 'pm_card_chargeDeclinedInsufficientFunds', undefined];
    const orders = await Promise.all(Array.from({ length: 24 }, (_, i) => place(`stripe-${i}@example.com`, cards[i % cards.length]).then((id) => ({ id, card: cards[i % cards.length] }))));
    await pipeline.waitUntilSettled(orders.map((o) => o.id), 60_000);

    const sources = new Set<string>();
    for (const { id, card } of orders) {
      const state = await both(id);
      const declined = card === 'pm_card_chargeDeclinedInsufficientFunds';
      expect(state).toMatchObject(
        declined ? { status: 'payment_failed', outcomes: 1, reason: 'insufficient_funds', succeeded: 0 } : { status: 'paid', outcomes: 1, succeeded: 1, unconfirmed: 0 },
      );
      sources.add(state.source!);
    }
    // The outcomes came by confirm replies and by webhooks (which usually beat a retry's read of a lost
    // reply: tests/payment/stripe-gateway.test.ts covers the read), and never by anything else.
    expect(sources.has('reply') && sources.has('webhook')).toBe(true);
    for (const source of sources) expect(['read', 'reply', 'webhook']).toContain(source);
    await waitFor(async () => (await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)) === 0, { what: 'every entry acknowledged' });
  });
});

describe('a payment worker killed inside a Stripe charge', () => {
  for (const point of ['after-intent-created', 'after-confirm'] as const) {
    it(`ends with one succeeded intent and one outcome when it dies ${point.replaceAll('-', ' ')}`, async () => {
      const crashing = startPayment(`payment-crash-${point}`, { CRASH_AT: point });
      await started(crashing);
      const id = await place(`crash-${point}@example.com`);
      await crashing.proc.exited;
      expect(crashing.proc.signalCode).toBe('SIGKILL');
      const atDeath = await both(id);
      // Created and not recorded: nothing charged, nothing known. Confirmed: charged, and only the
      // provider's webhook (to the API) can have recorded it yet.
      expect(atDeath.succeeded).toBe(point === 'after-confirm' ? 1 : 0);
      if (point === 'after-intent-created') expect(atDeath.outcomes).toBe(0);

      startPayment(`payment-after-${point}`);
      await waitFor(async () => (await both(id)).status === 'paid', { what: 'the order paid after the restart', timeoutMs: 30_000 });
      expect(await both(id)).toMatchObject({ status: 'paid', outcomes: 1, succeeded: 1, unconfirmed: 0 });
    });
  }
});
