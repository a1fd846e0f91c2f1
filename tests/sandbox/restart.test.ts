import { afterAll, afterEach, describe, expect, it } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { waitFor } from '../helpers/wait-for.ts';
import { lastHeader, stripeFor } from './helpers/sandbox.ts';
import { spawnSandbox } from './helpers/sandbox-process.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

const SECRET = 'whsec_restart_test';
const dir = mkdtempSync(join(tmpdir(), 'stripe-sandbox-'));
const running: Awaited<ReturnType<typeof spawnSandbox>>[] = [];
let receiver: WebhookReceiver | undefined;

afterEach(async () => {
  await Promise.all(running.splice(0).map((process) => process.stop('SIGKILL')));
  receiver?.stop();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(env: Record<string, string>) {
  const process = await spawnSandbox(env);
  running.push(process);
  return process;
}

describe('the sandbox process', () => {
  it('logs one line with its port, and exits 0 on SIGTERM and on SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const sandbox = await start({});
      expect(sandbox.lines).toHaveLength(1);
      expect(sandbox.lines[0]).toMatchObject({ msg: expect.stringContaining('stripe-sandbox listening on http://127.0.0.1:') });
      expect(await sandbox.stop(signal)).toBe(0);
    }
  });

  it('refuses a bad setting at start, naming the variable', async () => {
    const error = await spawnSandbox({ STRIPE_SANDBOX_WEBHOOK_SECRET: 'not-a-secret' }).catch((failure: Error) => failure);
    expect(String(error)).toContain('STRIPE_SANDBOX_WEBHOOK_SECRET');
  });

  it('keeps its ledger in the STRIPE_SANDBOX_DB file across a restart, and carries on with pending deliveries and processing payments', async () => {
    receiver = startWebhookReceiver(SECRET);
    const endpoint = receiver;
    endpoint.answer = () => 500;
    const env = {
      STRIPE_SANDBOX_DB: join(dir, 'ledger.sqlite'),
      STRIPE_SANDBOX_WEBHOOK_URL: endpoint.url,
      STRIPE_SANDBOX_WEBHOOK_SECRET: SECRET,
      STRIPE_SANDBOX_WEBHOOK_RETRY_MS: Array(40).fill('100').join(','),
    };
    const before = await start(env);
    let stripe = stripeFor(before.port);
    const paid = await stripe.paymentIntents.create({ amount: 4200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { order_id: 'o-restart' } }, { idempotencyKey: 'restart-create' });
    // A payment left processing when the sandbox stops gets its outcome after the restart.
    await fetch(`http://127.0.0.1:${before.port}/_sandbox/faults`, { method: 'POST', body: JSON.stringify({ rules: [{ fault: 'processing', delayMs: 300 }] }) });
    const slow = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', metadata: { order_id: 'o-slow' } });
    expect((await stripe.paymentIntents.confirm(slow.id)).status).toBe('processing');
    await waitFor(() => endpoint.attempts >= 3, { what: 'deliveries to be tried (and refused)' });
    expect(await before.stop('SIGTERM')).toBe(0);
    expect(endpoint.received).toEqual([]);

    endpoint.answer = () => 200;
    const after = await start(env);
    stripe = stripeFor(after.port);
    expect(await stripe.paymentIntents.retrieve(paid.id)).toMatchObject({ status: 'succeeded', latest_charge: paid.latest_charge });
    const replayed = await stripe.paymentIntents.create({ amount: 4200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { order_id: 'o-restart' } }, { idempotencyKey: 'restart-create' });
    expect(replayed.id).toBe(paid.id);
    expect(lastHeader(replayed, 'idempotent-replayed')).toBe('true');

    const types = () => new Set(endpoint.received.map(({ event }) => `${event.type} ${(event.data.object as Stripe.PaymentIntent).id}`));
    await waitFor(
      () => ['payment_intent.created', 'payment_intent.succeeded'].every((type) => types().has(`${type} ${paid.id}`)) && types().has(`payment_intent.succeeded ${slow.id}`),
      { what: 'the deliveries held over the restart, and the processing outcome', timeoutMs: 10_000 },
    );
    expect((await stripe.paymentIntents.retrieve(slow.id)).status).toBe('succeeded');
    expect(endpoint.rejected).toEqual([]);
  });
});
