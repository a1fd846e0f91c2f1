import { Elysia, t } from 'elysia';
import Stripe from 'stripe';
import { handleProviderEvent, type ProviderEvent } from '../../shared/payments/provider-webhook.ts';
import type { AppDeps } from '../deps.ts';
import { InvalidWebhookSignature, PayloadTooLarge } from '../errors/domain.ts';
import { CommonErrors, errorResponses } from '../models/error.ts';
import { openApiResponses } from '../openapi.ts';
import { readLimited } from '../plugins/json-body.ts';
import { requestContext } from '../plugins/request-context.ts';

const WebhookAck = t.Object(
  {
    received: t.Literal(true),
    result: t.UnionEnum(['recorded', 'known', 'duplicate', 'ignored', 'pending'], {
      description:
        '`recorded`: the outcome is recorded by this event; `known`: it was recorded before; `duplicate`: this event id was handled before; `ignored`: not about an intent of our orders, or a type we do not act on; `pending`: the intent is still processing',
    }),
  },
  { description: 'The event was verified and handled (or ignored): the provider need not send it again', examples: [{ received: true, result: 'recorded' }] },
);

const webhookResponses = {
  200: WebhookAck,
  ...errorResponses(new InvalidWebhookSignature('No signatures found matching the expected signature for payload'), new PayloadTooLarge(65_536)),
  ...CommonErrors,
};

/** Stripe's default tolerance: a signed timestamp older than 5 minutes is refused (a replayed request). */
const SIGNATURE_TOLERANCE_S = 300;

/**
 * `POST /webhooks/stripe`: the provider telling us an intent's outcome. The signature is checked by the
 * SDK over the raw body, exactly as sent (a parsed and re-serialised body would not match); nothing is
 * changed unless it passes. See handleProviderEvent for what is recorded.
 */
export function webhookRoutes({ db, log, config, outbox, metrics, orderChanges }: AppDeps) {
  return new Elysia().use(requestContext(log, metrics)).post(
    '/webhooks/stripe',
    async ({ request, log: requestLog }) => {
      const raw = new TextDecoder().decode(await readLimited(request, config.bodyLimitBytes));
      const signature = request.headers.get('stripe-signature');
      if (!signature) throw new InvalidWebhookSignature('no Stripe-Signature header');
      let event: ProviderEvent;
      try {
        event = (await Stripe.webhooks.constructEventAsync(raw, signature, config.stripeWebhookSecret, SIGNATURE_TOLERANCE_S)) as ProviderEvent;
      } catch (error) {
        throw new InvalidWebhookSignature((error as Error).message);
      }
      const { result, orderId } = await handleProviderEvent(db.$client, outbox, event);
      if (result === 'recorded' && orderId) orderChanges?.announce([orderId]);
      metrics.providerWebhooks.inc({ result });
      requestLog.info({ event_id: event.id, event_type: event.type, result, ...(orderId ? { order_id: orderId } : {}) }, 'provider webhook handled');
      return { received: true as const, result };
    },
    {
      // The raw body is read by the handler: the signature covers its exact bytes.
      parse: 'none',
      response: webhookResponses,
      detail: {
        tags: ['webhooks'],
        summary: 'Receive a Stripe event',
        responses: openApiResponses(webhookResponses),
        description:
          'Stripe (or the local sandbox) reports `payment_intent.succeeded`, `payment_intent.payment_failed`, `payment_intent.processing` and `payment_intent.canceled` here. ' +
          'The `Stripe-Signature` header is checked against the raw body with STRIPE_WEBHOOK_SECRET (400 and nothing changed when it fails or is older than 5 minutes). ' +
          'Each outcome is recorded once, whichever of the worker and this endpoint learns it first; a repeated event id changes nothing; other event types are answered 200 and ignored.',
        parameters: [{ in: 'header', name: 'stripe-signature', required: true, schema: { type: 'string' }, description: '`t=<unix seconds>,v1=<HMAC-SHA256 hex>`, as Stripe signs' }],
      },
    },
  );
}
