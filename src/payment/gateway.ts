import type { OutcomeSource } from '../shared/payments/payment-outcomes.ts';

export interface ChargeRequest {
  /** The order being paid: the provider's idempotency keys are derived from it, so a retry can never charge twice. */
  orderId: string;
  amountCents: number;
  /** The card to charge (a Stripe PaymentMethod id); null or absent: the provider's test card. */
  paymentMethodId?: string | null;
  /** When the order was made: no create for it can be older, so its idempotency key cannot have expired before. */
  orderCreatedAt?: Date;
  /** What PostgreSQL holds of the order's provider intent from earlier attempts (none: nothing yet). */
  intent?: RecordedIntent | null;
}

/** An order's row in payment_intents. */
export interface RecordedIntent {
  intentId: string | null;
  /** Picks the create call's idempotency key; moves on after the provider answered a create with a 5xx. */
  createSeq: number;
}

export type ChargeResult =
  | { status: 'succeeded'; chargeId: string; source?: OutcomeSource }
  | { status: 'declined'; chargeId?: string; reason: string; source?: OutcomeSource }
  /** The provider has not decided yet (a `processing` intent): its webhook, or a later read, will say. */
  | { status: 'pending'; intentId: string };

/** A charge the provider has decided: what the in-process mock gateway always answers. */
export type DecidedCharge = Exclude<ChargeResult, { status: 'pending' }>;

/**
 * What the payment worker needs from a payment provider: charge an order once, however often asked.
 * Throws GatewayTransientError for failures worth retrying.
 */
export interface PaymentGateway {
  charge(request: ChargeRequest): Promise<ChargeResult>;
}

/** Shared by every replica (GATEWAY_RATE_LIMIT_PER_S): each call to the provider waits for its turn. */
export interface CallBudget {
  acquire(): Promise<void>;
}
