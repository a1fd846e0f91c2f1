/**
 * A payment provider's decline code in words a customer understands, and what they can do about it.
 * The codes are Stripe's (the mock gateway uses the same); anything unknown gets the general sentence.
 */
const PLAIN: Record<string, string> = {
  card_declined: 'your bank declined the card',
  generic_decline: 'your bank declined the card',
  do_not_honor: 'your bank declined the card',
  insufficient_funds: 'the card does not have enough funds',
  expired_card: 'the card has expired',
  incorrect_cvc: "the card's security code was wrong",
  incorrect_number: 'the card number was wrong',
  invalid_expiry_month: "the card's expiry date was wrong",
  invalid_expiry_year: "the card's expiry date was wrong",
  processing_error: 'the card could not be processed just now',
  lost_card: 'your bank declined the card',
  stolen_card: 'your bank declined the card',
  card_velocity_exceeded: 'the card has reached its spending limit',
  authentication_required: 'your bank asked for an authentication that was not completed',
};

/** "the card has expired", or the general sentence for a code we have no words for. */
export function declineInWords(reason: string | null): string {
  return (reason && PLAIN[reason]) ?? 'the payment was declined';
}
