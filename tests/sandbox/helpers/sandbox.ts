import Stripe from 'stripe';
import { loadSandboxConfig } from '../../../src/sandbox/stripe/config.ts';
import { startStripeSandbox, type StripeSandbox } from '../../../src/sandbox/stripe/sandbox.ts';

/** An in-process sandbox on a free port with an in-memory ledger; `env` as the process would read it. */
export function startTestSandbox(env: Record<string, string> = {}): StripeSandbox {
  return startStripeSandbox(loadSandboxConfig({ STRIPE_SANDBOX_PORT: '0', STRIPE_SANDBOX_TICK_MS: '10', ...env }));
}

/** The official SDK pointed at the sandbox, its own retries off unless asked for. */
export function stripeFor(port: number, options: Partial<Stripe.StripeConfig> = {}): Stripe {
  return new Stripe('sk_test_sandbox', { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0, telemetry: false, ...options });
}

/** Calls a /v1 endpoint without the SDK, to see status and headers as they are. */
export async function rawRequest(
  port: number,
  method: 'GET' | 'POST',
  path: string,
  { form, headers = {} }: { form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { Authorization: 'Bearer sk_test_sandbox', ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}), ...headers },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, and it succeeded');
}

/**
 * A header of `lastResponse`: with the fetch client (the SDK's choice under Bun) it is the fetch
 * Response, whose headers are a Headers object rather than the plain object the typings promise.
 */
export function lastHeader(object: { lastResponse: Stripe.Response<unknown>['lastResponse'] }, name: string): string | null {
  const headers = object.lastResponse.headers as unknown as Headers | Record<string, string>;
  return headers instanceof Headers ? headers.get(name) : (headers[name.toLowerCase()] ?? null);
}
