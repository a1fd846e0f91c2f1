import { docUrl } from '../errors.ts';
import { newId } from '../ids.ts';
import type { PaymentError, PaymentIntent } from '../payment-intent.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { AUTHENTICATION_REQUIRED, paymentMethodObject, TEST_CARDS, type CardOutcome } from '../test-cards.ts';
import type { EventLog, RequestRef } from './event-log.ts';

export interface ConfirmOptions {
  /** The customer is not there: a card that needs 3-D Secure is declined instead of asking. */
  offSession: boolean;
  errorOnRequiresAction: boolean;
}

interface Deps {
  store: LedgerStore;
  events: EventLog;
  now: () => number;
}

/**
 * Charges the intent's card and saves what its test token decides (call inside a transaction):
 * succeeded with a charge; declined with a failed charge, the payment method taken off and the
 * decline in `last_payment_error`; or waiting for 3-D Secure in `requires_action`.
 */
export function applyCardOutcome({ store, events, now }: Deps, intent: PaymentIntent, options: ConfirmOptions, request: RequestRef): { intent: PaymentIntent; error?: PaymentError } {
  const methodId = intent.payment_method!;
  const method = store.paymentMethods.get(methodId)!;
  const card = TEST_CARDS[method.token]!;
  let outcome: CardOutcome = card.outcome;
  if (outcome.kind === 'authenticate' && (options.offSession || options.errorOnRequiresAction)) outcome = AUTHENTICATION_REQUIRED;

  if (outcome.kind === 'authenticate') {
    intent.status = 'requires_action';
    intent.next_action = { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect' } };
    store.intents.update(intent);
    events.record('payment_intent.requires_action', intent, request);
    return { intent };
  }

  const charge = newId('ch');
  const succeeded = outcome.kind === 'succeed';
  store.charges.insert({ id: charge, paymentIntent: intent.id, status: succeeded ? 'succeeded' : 'failed', amount: intent.amount, orderId: intent.metadata.order_id ?? null, createdMs: now() });
  intent.latest_charge = charge;
  intent.next_action = null;

  if (outcome.kind === 'succeed') {
    intent.status = 'succeeded';
    intent.amount_received = intent.amount;
    intent.last_payment_error = null;
    store.intents.update(intent);
    events.record('payment_intent.succeeded', intent, request);
    return { intent };
  }

  const error: PaymentError = {
    type: 'card_error',
    code: outcome.code,
    decline_code: outcome.declineCode,
    message: outcome.message,
    doc_url: docUrl(outcome.code),
    charge,
    payment_method: paymentMethodObject(methodId, card, method.created),
  };
  // Stripe takes a declined card off the intent: the next confirm must name a payment method.
  intent.status = 'requires_payment_method';
  intent.payment_method = null;
  intent.last_payment_error = error;
  store.intents.update(intent);
  events.record('payment_intent.payment_failed', intent, request);
  return { intent, error };
}
