import Stripe from 'stripe';

export interface ReceivedEvent {
  event: Stripe.Event;
  signature: string;
}

/**
 * A webhook endpoint as our API would run one: it checks every delivery's signature with the SDK
 * (constructEventAsync: under Bun the SDK uses Web Crypto, which has no synchronous HMAC) and
 * answers what `answer` says, so a test can make it fail and then recover.
 */
export function startWebhookReceiver(secret: string) {
  const stripe = new Stripe('sk_test_sandbox');
  const received: ReceivedEvent[] = [];
  const rejected: string[] = [];
  let attempts = 0;
  const receiver = {
    received,
    rejected,
    get attempts() {
      return attempts;
    },
    /** The status to answer the next delivery with (a promise: to answer late). */
    answer: (): number | Promise<number> => 200,
    url: '',
    stop: () => server.stop(true),
  };
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      attempts += 1;
      const raw = await request.text();
      const signature = request.headers.get('stripe-signature') ?? '';
      try {
        const event = await stripe.webhooks.constructEventAsync(raw, signature, secret);
        const status = await receiver.answer();
        if (status < 300) received.push({ event, signature });
        return new Response(null, { status });
      } catch (error) {
        rejected.push(String(error));
        return new Response('bad signature', { status: 400 });
      }
    },
  });
  receiver.url = `http://127.0.0.1:${server.port}/webhooks/stripe`;
  return receiver;
}

export type WebhookReceiver = ReturnType<typeof startWebhookReceiver>;
