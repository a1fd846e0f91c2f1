import type { Stripe } from './stripe-client.ts';

/**
 * What a PaymentIntent says about its order, whoever read it (the worker's confirm reply, its later
 * read, the webhook): the one mapping from Stripe's states to ours.
 * - `succeeded` and `failed` are outcomes, recorded once;
 * - `pending`: the provider has not decided (`processing`); the webhook or a later read finishes it;
 * - `confirm`: not confirmed yet; only the payment worker acts on it (it confirms the recorded intent).
 */
export type IntentOutcome =
  | { kind: 'succeeded'; chargeId: string }
  | { kind: 'failed'; reason: string }
  | { kind: 'pending' }
  | { kind: 'confirm' };

/** The fields of a PaymentIntent this mapping reads: a webhook's `data.object` or an API reply. */
export type IntentState = Pick<Stripe.PaymentIntent, 'id' | 'status' | 'latest_charge' | 'last_payment_error' | 'cancellation_reason'>;

export function intentOutcome(intent: IntentState): IntentOutcome {
  switch (intent.status) {
    case 'succeeded': {
      const charge = intent.latest_charge;
      return { kind: 'succeeded', chargeId: typeof charge === 'string' ? charge : (charge?.id ?? intent.id) };
    }
    case 'processing':
      return { kind: 'pending' };
    case 'requires_confirmation':
      return { kind: 'confirm' };
    case 'requires_payment_method': {
      // Back here after a confirm: the card was declined (its reason is on the intent). Never confirmed: confirm it.
      const error = intent.last_payment_error;
      return error ? { kind: 'failed', reason: error.decline_code ?? error.code ?? 'card_declined' } : { kind: 'confirm' };
    }
    case 'requires_action':
      // 3-D Secure wants the customer, who is not here: a pipeline charging after checkout cannot finish it.
      return { kind: 'failed', reason: 'authentication_required' };
    case 'canceled':
      return { kind: 'failed', reason: `canceled${intent.cancellation_reason ? `: ${intent.cancellation_reason}` : ''}` };
    case 'requires_capture':
      // We create every intent with automatic capture; a manual-capture intent is somebody else's business.
      return { kind: 'pending' };
    default:
      return { kind: 'pending' };
  }
}
