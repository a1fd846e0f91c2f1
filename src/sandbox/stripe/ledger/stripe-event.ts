import type { PaymentIntent } from '../payment-intent.ts';

export type EventType =
  | 'payment_intent.created'
  | 'payment_intent.processing'
  | 'payment_intent.requires_action'
  | 'payment_intent.succeeded'
  | 'payment_intent.payment_failed'
  | 'payment_intent.canceled';

/** The Event object as Stripe returns it and POSTs it to webhook endpoints. */
export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: PaymentIntent };
  livemode: false;
  /** Endpoints that have not yet answered 2xx for it. */
  pending_webhooks: number;
  /** The API request that caused it; both null when it happened on its own (a processing payment settling). */
  request: { id: string | null; idempotency_key: string | null };
  type: EventType;
}
