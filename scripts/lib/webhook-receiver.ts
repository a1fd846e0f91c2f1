/**
 * A restaurant's webhook endpoint in this process, for tests and `bun run chaos`: it verifies every
 * request with the official Standard Webhooks library (`Webhook.verify`, never our code), keeps what it
 * got, and answers as it is told (2xx, a 5xx, a slow answer).
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** The verified payload, or undefined when the signature did not verify. */
  payload: unknown;
  verifyError?: string;
  /** What the endpoint answered (0 while a slow answer is still on its way). */
  status: number;
  at: number;
}

/** How the endpoint answers the `attempt`-th request (1 first) with this webhook-id. */
export type EndpointPolicy = (webhookId: string, attempt: number) => { status: number; delayMs?: number; retryAfter?: string };

export const ACCEPT: EndpointPolicy = () => ({ status: 204 });

/** A fresh signing secret as Standard Webhooks writes them: `whsec_` and 24 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export interface WebhookReceiver {
  /** ORDER_WEBHOOK_URL. */
  url: string;
  /** ORDER_WEBHOOK_SECRET. */
  secret: string;
  requests: ReceivedWebhook[];
  policy: EndpointPolicy;
  /** The payloads the endpoint verified and answered 2xx, by webhook-id (a retry after a 2xx counts again). */
  accepted(): ReceivedWebhook[];
  stop(): Promise<void>;
}

export function startWebhookReceiver({ secret = newWebhookSecret(), policy = ACCEPT }: { secret?: string; policy?: EndpointPolicy } = {}): WebhookReceiver {
  const verifier = new Webhook(secret);
  const attempts = new Map<string, number>();
  const receiver = { secret, requests: [] as ReceivedWebhook[], policy };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const body = await request.text();
      const headers = Object.fromEntries(request.headers);
      const id = headers['webhook-id'] ?? '';
      const received: ReceivedWebhook = { id, timestamp: headers['webhook-timestamp'] ?? '', signature: headers['webhook-signature'] ?? '', body, payload: undefined, status: 0, at: Date.now() };
      try {
        received.payload = verifier.verify(body, headers);
      } catch (error) {
        received.verifyError = (error as Error).message;
        received.status = 400;
        receiver.requests.push(received);
        return new Response('bad signature', { status: 400 });
      }
      const attempt = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, attempt);
      const answer = receiver.policy(id, attempt);
      // Kept in the order requests arrived; `status` is filled in once answered (0 until a slow answer goes out).
      receiver.requests.push(received);
      if (answer.delayMs) await Bun.sleep(answer.delayMs);
      received.status = answer.status;
      return new Response(answer.status >= 300 ? `failing on purpose (attempt ${attempt})` : null, {
        status: answer.status,
        headers: answer.retryAfter ? { 'retry-after': answer.retryAfter } : {},
      });
    },
  });
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${server.port}/webhooks/orders`,
    accepted: () => receiver.requests.filter((request) => request.status >= 200 && request.status < 300),
    stop: async () => {
      await server.stop(true);
    },
  });
}
