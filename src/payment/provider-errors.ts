import Stripe from 'stripe';
import { GatewayTransientError } from './errors.ts';

/**
 * A Stripe SDK error as the payment worker sees it. Worth another try later (GatewayTransientError):
 * no answer (a dropped connection, a timeout), a 5xx, a 429 (with its Retry-After), a 409 for a key
 * still in flight, and a refused key (401/403: every order fails alike, so the breaker opens and the
 * worker pauses rather than failing orders). Anything else (a 400 we did not expect) is returned as it
 * is: the retry schedule tries it again and dead-letters it with its reasons if it never passes.
 */
export function providerError(error: unknown, call: string): unknown {
  if (!(error instanceof Stripe.errors.StripeError)) return error;
  const what = `${call}: ${error.statusCode ?? 'no answer'} ${error.type}${error.code ? ` ${error.code}` : ''}: ${error.message}`;
  if (error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeAPIError) return new GatewayTransientError(what, { cause: error });
  if (error instanceof Stripe.errors.StripeRateLimitError) return new GatewayTransientError(what, { cause: error, retryAfterMs: retryAfterMs(error.headers) });
  if (error instanceof Stripe.errors.StripeIdempotencyError && error.statusCode === 409) return new GatewayTransientError(what, { cause: error });
  if (error instanceof Stripe.errors.StripeAuthenticationError || error instanceof Stripe.errors.StripePermissionError) return new GatewayTransientError(what, { cause: error });
  return error;
}

/** `Retry-After` in seconds (the only form Stripe sends), as milliseconds. */
function retryAfterMs(headers: Record<string, string> | undefined): number | undefined {
  const value = Number(headers?.['retry-after']);
  return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
}

/** The provider answered 5xx: under Stripe's v1 idempotency, that answer is saved with the key and replayed for as long as the key lives. */
export function isSavedServerError(error: unknown): boolean {
  return error instanceof Stripe.errors.StripeAPIError && (error.statusCode ?? 0) >= 500;
}
