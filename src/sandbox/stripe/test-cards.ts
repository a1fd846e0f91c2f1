/**
 * Stripe's test PaymentMethods (docs.stripe.com/testing), the only cards the sandbox knows.
 * Each token makes a fresh PaymentMethod when an intent is given it, as in Stripe test mode, so
 * a client cannot come to rely on `intent.payment_method === 'pm_card_visa'`.
 */
export type CardOutcome =
  | { kind: 'succeed' }
  | { kind: 'decline'; code: string; declineCode: string; message: string }
  /** 3-D Secure: the intent waits in `requires_action` (an off-session or error_on_requires_action confirm is declined instead). */
  | { kind: 'authenticate' };

export interface TestCard {
  brand: string;
  last4: string;
  funding: 'credit' | 'debit';
  outcome: CardOutcome;
}

const declined = (declineCode: string, message = 'Your card was declined.', code = 'card_declined'): CardOutcome => ({ kind: 'decline', code, declineCode, message });

export const TEST_CARDS: Readonly<Record<string, TestCard>> = {
  pm_card_visa: { brand: 'visa', last4: '4242', funding: 'credit', outcome: { kind: 'succeed' } },
  pm_card_visa_debit: { brand: 'visa', last4: '5556', funding: 'debit', outcome: { kind: 'succeed' } },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444', funding: 'credit', outcome: { kind: 'succeed' } },
  pm_card_amex: { brand: 'amex', last4: '8431', funding: 'credit', outcome: { kind: 'succeed' } },
  pm_card_chargeDeclined: { brand: 'visa', last4: '0002', funding: 'credit', outcome: declined('generic_decline') },
  pm_card_chargeDeclinedInsufficientFunds: { brand: 'visa', last4: '9995', funding: 'credit', outcome: declined('insufficient_funds', 'Your card has insufficient funds.') },
  pm_card_chargeDeclinedExpiredCard: { brand: 'visa', last4: '0069', funding: 'credit', outcome: declined('expired_card', 'Your card has expired.', 'expired_card') },
  pm_card_chargeDeclinedIncorrectCvc: { brand: 'visa', last4: '0127', funding: 'credit', outcome: declined('incorrect_cvc', "Your card's security code is incorrect.", 'incorrect_cvc') },
  pm_card_chargeDeclinedProcessingError: {
    brand: 'visa',
    last4: '0119',
    funding: 'credit',
    outcome: declined('processing_error', 'An error occurred while processing your card. Try again in a little bit.', 'processing_error'),
  },
  pm_card_chargeDeclinedFraudulent: { brand: 'visa', last4: '0019', funding: 'credit', outcome: declined('fraudulent') },
  pm_card_chargeDeclinedLostCard: { brand: 'visa', last4: '9987', funding: 'credit', outcome: declined('lost_card') },
  pm_card_chargeDeclinedStolenCard: { brand: 'visa', last4: '9979', funding: 'credit', outcome: declined('stolen_card') },
  pm_card_authenticationRequired: { brand: 'visa', last4: '3184', funding: 'credit', outcome: { kind: 'authenticate' } },
};

/** The decline of a card that needs 3-D Secure when no customer is there to authenticate. */
export const AUTHENTICATION_REQUIRED: CardOutcome = declined('authentication_required', 'Your card was declined. This transaction requires authentication.', 'authentication_required');

/** The PaymentMethod object as Stripe returns it inside errors (`last_payment_error.payment_method`). */
export interface PaymentMethod {
  id: string;
  object: 'payment_method';
  type: 'card';
  card: { brand: string; last4: string; funding: string; exp_month: number; exp_year: number; country: 'US' };
  billing_details: { address: null; email: null; name: null; phone: null };
  created: number;
  customer: null;
  livemode: false;
  metadata: Record<string, string>;
}

export function paymentMethodObject(id: string, card: TestCard, created: number): PaymentMethod {
  return {
    id,
    object: 'payment_method',
    type: 'card',
    // Stripe's test cards carry any future expiry date; an expired one is declined by its token, not its date.
    card: { brand: card.brand, last4: card.last4, funding: card.funding, exp_month: 12, exp_year: new Date(created * 1000).getUTCFullYear() + 3, country: 'US' },
    billing_details: { address: null, email: null, name: null, phone: null },
    created,
    customer: null,
    livemode: false,
    metadata: {},
  };
}
