import Stripe from 'stripe';

export interface StripeClientSettings {
  secretKey: string;
  /** Where the SDK connects: Stripe itself (https://api.stripe.com) or a server speaking its API. */
  apiUrl: string;
  /** No answer in this long: the call fails (a StripeConnectionError), and our retries decide what next. */
  timeoutMs: number;
}

/**
 * The official SDK pointed at `apiUrl`. Its own network retries are off: a retry is a decision the
 * payment worker makes with the recorded intent in hand (see docs/payments.md), never a blind resend.
 * Bun's fetch keeps connections alive, so the fetch client saves a TLS/TCP handshake per call.
 */
export function createStripeClient({ secretKey, apiUrl, timeoutMs }: StripeClientSettings): Stripe {
  const url = new URL(apiUrl);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(secretKey, {
    host: url.hostname,
    port: url.port || (protocol === 'http' ? 80 : 443),
    protocol,
    maxNetworkRetries: 0,
    timeout: timeoutMs,
    httpClient: Stripe.createFetchHttpClient(),
    telemetry: false,
  });
}

export type { Stripe };
