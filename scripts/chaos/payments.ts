/**
 * The payments' side of a chaos run: the Stripe sandbox as the provider, misbehaving the ways a real
 * one does (slow, 500s before and after the effect, replies lost after the effect, 429s, outcomes
 * decided later and told by webhook), and what must hold at the end, counted from the provider's own
 * records through its API, never from ours.
 */
import type Stripe from 'stripe';
import { createStripeClient } from '../../src/shared/payments/stripe-client.ts';
import { spawnStripeSandbox, type SandboxProcessHandle } from '../lib/stripe-sandbox.ts';

const WEBHOOK_SECRET = 'whsec_chaos_run';

/** Every rule draws from the sandbox's seeded random, each on its own share of the calls it may hit. */
const PROVIDER_FAULTS = [
  { fault: 'latency', ms: 5, jitterMs: 20 },
  { fault: 'rate_limit', rate: 0.02, retryAfterSeconds: 0 },
  { fault: 'error_before', rate: 0.08 },
  { fault: 'error_after', endpoints: ['create', 'confirm'], rate: 0.05 },
  { fault: 'drop_after', endpoints: ['create', 'confirm'], rate: 0.05 },
  { fault: 'processing', endpoints: ['confirm'], rate: 0.1, delayMs: 500 },
];

/** Which card an order pays with: every 20th is declined by its issuer. */
export const chaosCard = (i: number) => (i % 20 === 7 ? 'pm_card_chargeDeclinedInsufficientFunds' : 'pm_card_visa');

export interface ChaosProvider {
  /** For every service of the system: pay through the sandbox, check its webhooks with its secret. */
  env: Record<string, string>;
  sandbox: SandboxProcessHandle;
  stop(): Promise<void>;
}

/** The sandbox, its webhooks going to the API that will listen on `apiPort`, its faults on from the start. */
export async function startChaosProvider(apiPort: number): Promise<ChaosProvider> {
  const sandbox = await spawnStripeSandbox({
    STRIPE_SANDBOX_WEBHOOK_URL: `http://127.0.0.1:${apiPort}/webhooks/stripe`,
    STRIPE_SANDBOX_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_SANDBOX_WEBHOOK_RETRY_MS: '200,500,1000,2000,4000',
    STRIPE_SANDBOX_TICK_MS: '20',
    STRIPE_SANDBOX_FAULTS: JSON.stringify(PROVIDER_FAULTS),
    STRIPE_SANDBOX_SEED: String(Math.floor(Math.random() * 1e9)),
  });
  return {
    env: {
      PAYMENT_PROVIDER: 'stripe',
      STRIPE_API_URL: sandbox.url,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      // Short, so an order whose calls failed in a row is retried within the run.
      PAYMENT_RETRY_SCHEDULE_MS: '200,500,1000,2000,4000,8000',
    },
    sandbox,
    stop: () => sandbox.stop(),
  };
}

/** Every intent the provider holds, by the order its metadata names. */
async function intentsByOrder(stripe: Stripe): Promise<Map<string, Stripe.PaymentIntent[]>> {
  const byOrder = new Map<string, Stripe.PaymentIntent[]>();
  for await (const intent of stripe.paymentIntents.list({ limit: 100 })) {
    const orderId = intent.metadata.order_id ?? '(none)';
    byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), intent]);
  }
  return byOrder;
}

/**
 * - no order charged twice: at most one succeeded intent per order, at the provider;
 * - every paid order has exactly one succeeded intent, and no failed one has any;
 * - no order left with an unconfirmed intent that could still be confirmed (leftovers are cancelled).
 */
export async function paymentInvariants(sandbox: SandboxProcessHandle, orders: readonly { id: string; status: string }[]) {
  // Errors are the faults' business, not the checker's: it reads with faults off.
  await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const stripe = createStripeClient({ secretKey: 'sk_test_chaos_checker', apiUrl: sandbox.url, timeoutMs: 30_000 });
  const byOrder = await intentsByOrder(stripe);
  const succeeded = (id: string) => (byOrder.get(id) ?? []).filter((intent) => intent.status === 'succeeded').length;
  const twice = orders.filter((order) => succeeded(order.id) > 1);
  const paidWrong = orders.filter((order) => order.status === 'paid' && succeeded(order.id) !== 1);
  const failedCharged = orders.filter((order) => order.status === 'payment_failed' && succeeded(order.id) > 0);
  const final = orders.filter((order) => order.status !== 'processing');
  const open = final.filter((order) => (byOrder.get(order.id) ?? []).some((intent) => intent.status === 'requires_confirmation'));
  const intents = [...byOrder.values()].reduce((sum, list) => sum + list.length, 0);
  return [
    { ok: twice.length === 0, line: `${twice.length} orders charged more than once, counted at the provider (${intents} intents for ${byOrder.size} orders)` },
    { ok: paidWrong.length === 0 && failedCharged.length === 0, line: `${paidWrong.length} paid orders without exactly one succeeded intent; ${failedCharged.length} failed orders with a charge` },
    { ok: open.length === 0, line: `${open.length} final orders with an intent left unconfirmed and not cancelled` },
  ];
}
