/**
 * Stripe's webhook signature: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` of
 * `${t}.${payload}`, keyed with the endpoint's signing secret as-is (the whole `whsec_…` string).
 * The SDK's `webhooks.constructEvent(payload, header, secret)` checks exactly this.
 */
export function signatureHeader(payload: string, secret: string, timestampSeconds: number): string {
  const signature = new Bun.CryptoHasher('sha256', secret).update(`${timestampSeconds}.${payload}`).digest('hex');
  return `t=${timestampSeconds},v1=${signature}`;
}
