import { Webhook } from 'standardwebhooks';
import type { AttemptResult } from '../channel.ts';
import { retryAfterMs } from './retry-after.ts';

export interface WebhookSettings {
  url: string;
  /** ORDER_WEBHOOK_SECRET, `whsec_` and base64. */
  secret: string;
  timeoutMs: number;
}

/** How much of an endpoint's refusal is kept as the delivery's last error. */
const MAX_REPLY_CHARS = 300;

/**
 * The webhook adapter: one POST, signed per Standard Webhooks by its official library (webhook-id,
 * webhook-timestamp, webhook-signature over `id.timestamp.body`). Any 2xx is accepted; any other answer,
 * a redirect included (the spec's receivers answer, they do not redirect), or none within the timeout,
 * is deferred, with the endpoint's Retry-After when it gave one.
 */
export function createWebhookSender({ url, secret, timeoutMs }: WebhookSettings, { now = () => new Date() } = {}) {
  const signer = new Webhook(secret);
  return async function post(webhookId: string, body: string): Promise<AttemptResult> {
    const timestamp = now();
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': webhookId,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signer.sign(webhookId, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const timedOut = (error as Error)?.name === 'TimeoutError';
      return { kind: 'deferred', reply: timedOut ? `no answer within WEBHOOK_TIMEOUT_MS (${timeoutMs} ms)` : `could not reach the endpoint: ${(error as Error)?.message ?? error}` };
    }
    const text = await response.text().catch(() => '');
    const reply = `HTTP ${response.status}${text.trim() ? `: ${text.trim().slice(0, MAX_REPLY_CHARS)}` : ''}`;
    if (response.ok) return { kind: 'sent', reply };
    const after = retryAfterMs(response.headers.get('retry-after'), timestamp.getTime());
    return { kind: 'deferred', reply, ...(after === undefined ? {} : { retryAfterMs: after }) };
  };
}
