import Stripe from 'stripe';
import { createStripeClient } from '../../src/shared/payments/stripe-client.ts';
import { spawnStripeSandbox } from '../../scripts/lib/stripe-sandbox.ts';

/** A fault rule of the sandbox (docs/stripe-sandbox.md); its admin API checks the shape. */
export type SandboxFault = Record<string, unknown> & { fault: string };

export interface SandboxProcess {
  url: string;
  port: number;
  /** The official SDK, pointed at the sandbox: how the tests count charges, through the provider's own API. */
  stripe: Stripe;
  output: string[];
  /** Replaces the active faults (`POST /_sandbox/faults`). */
  setFaults(rules: SandboxFault[], extra?: Record<string, unknown>): Promise<void>;
  /** Every intent made for an order, by its metadata (the provider's records, not ours). */
  intentsOf(orderId: string): Promise<Stripe.PaymentIntent[]>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the sandbox process on a free port (fast ticks, so processing outcomes and webhooks come quickly). */
export async function startSandboxProcess(env: Record<string, string> = {}): Promise<SandboxProcess> {
  const { url, port, output, stop } = await spawnStripeSandbox({ STRIPE_SANDBOX_TICK_MS: '10', ...env });
  const stripe = createStripeClient({ secretKey: 'sk_test_sandbox_tests', apiUrl: url, timeoutMs: 10_000 });
  return {
    url,
    port,
    stripe,
    output,
    async setFaults(rules, extra = {}) {
      const res = await fetch(`${url}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules, ...extra }) });
      if (!res.ok) throw new Error(`POST /_sandbox/faults answered ${res.status}: ${await res.text()}`);
    },
    async intentsOf(orderId) {
      return (await stripe.paymentIntents.search({ query: `metadata['order_id']:'${orderId}'`, limit: 100 })).data;
    },
    stop,
  };
}
