import Stripe from 'stripe';
import { intentOutcome, type IntentOutcome } from '../shared/payments/intent-outcome.ts';
import type { CallBudget, ChargeRequest, ChargeResult, PaymentGateway } from './gateway.ts';
import type { IntentRecords } from './intent-records.ts';
import { isSavedServerError, providerError } from './provider-errors.ts';

/** Where a test can make the worker die inside a charge: after the intent is created (before it is recorded), after confirm. */
export type ProviderCrashPoint = 'after-intent-created' | 'after-confirm';

export interface StripeGatewayDeps {
  stripe: Stripe;
  intents: IntentRecords;
  currency: string;
  /** How long the provider keeps an idempotency key (Stripe: 24 h). */
  idempotencyTtlMs: number;
  /** A live key: an order must name its card; with a test key, none means Stripe's test Visa. */
  live: boolean;
  rateLimit?: CallBudget;
  crash?: (point: ProviderCrashPoint) => void;
  now?: () => number;
}

/** Stripe's test card, charged when an order names none (test mode only). */
export const TEST_PAYMENT_METHOD = 'pm_card_visa';

const CANCELABLE = new Set<Stripe.PaymentIntent['status']>(['requires_payment_method', 'requires_confirmation', 'requires_action', 'requires_capture']);

/**
 * Charges through Stripe's PaymentIntents, so that no order is ever charged twice, whatever fails:
 * 1. Create the order's intent (unconfirmed) under an idempotency key derived from the order id, and
 *    record its id in PostgreSQL in its own commit. A create whose reply was lost is asked again with
 *    the same key and answered with the same intent; one whose key may be gone (the order is older
 *    than the key's lifetime, or the provider answered 5xx, which it replays for the key's lifetime)
 *    looks the order's intent up by `metadata['order_id']` before making one.
 * 2. Confirm the recorded intent, and only that one. Every later attempt starts by reading it: an
 *    intent that succeeded (or was declined) is recorded as it is, never confirmed again; one still
 *    `processing` is left to the webhook or a later read.
 * An intent made by a losing attempt (two workers, a key that was gone) is cancelled, never confirmed.
 */
export function createStripeGateway(deps: StripeGatewayDeps): PaymentGateway {
  const { stripe, intents, rateLimit, crash = () => {}, now = Date.now } = deps;

  /** One provider call: counted against the shared rate limit, its failure said in our terms. */
  async function call<T>(what: string, request: () => Promise<T>): Promise<T> {
    await rateLimit?.acquire();
    try {
      return await request();
    } catch (error) {
      throw providerError(error, what);
    }
  }

  /** The order's intents at the provider, by the metadata every one of ours carries. */
  async function findIntents(orderId: string): Promise<Stripe.PaymentIntent[]> {
    const found = await call('search intents', () => stripe.paymentIntents.search({ query: `metadata['order_id']:'${orderId}'`, limit: 20 }));
    return found.data;
  }

  /** Cancels an intent that will never be confirmed; one that cannot be cancelled any more is left as it is. */
  async function cancelLeftover(intent: Stripe.PaymentIntent): Promise<void> {
    if (!CANCELABLE.has(intent.status)) return;
    await call('cancel intent', () => stripe.paymentIntents.cancel(intent.id, { cancellation_reason: 'duplicate' }, { idempotencyKey: `cancel_${intent.id}` })).catch(() => {});
  }

  /** Records `intent` as the order's; if another was recorded first, that one is the order's and this one is cancelled. */
  async function adopt(orderId: string, intent: Stripe.PaymentIntent): Promise<Stripe.PaymentIntent> {
    const recorded = await intents.record(orderId, intent.id, intent.status);
    if (recorded === intent.id) return intent;
    await cancelLeftover(intent);
    return call('retrieve intent', () => stripe.paymentIntents.retrieve(recorded));
  }

  /**
   * Adopts the intent an order's earlier attempts made, if the provider has one: the one that got
   * furthest. The others are cancelled once it is recorded, and only then: an intent is confirmed only
   * after it was recorded, so one that is not the recorded one will never be.
   */
  async function adoptEarlier(orderId: string): Promise<Stripe.PaymentIntent | undefined> {
    const found = await findIntents(orderId);
    const rank = (intent: Stripe.PaymentIntent) => ['succeeded', 'processing', 'requires_action', 'requires_confirmation', 'requires_payment_method'].indexOf(intent.status);
    const live = found.filter((intent) => rank(intent) >= 0).sort((a, b) => rank(a) - rank(b) || a.created - b.created);
    if (live.length === 0) return undefined;
    const adopted = await adopt(orderId, live[0]!);
    for (const leftover of live) if (leftover.id !== adopted.id) await cancelLeftover(leftover);
    return adopted;
  }

  async function createIntent(request: ChargeRequest, paymentMethod: string): Promise<Stripe.PaymentIntent> {
    const { orderId } = request;
    const seq = request.intent?.createSeq ?? 0;
    // A key lives `idempotencyTtlMs` from its first use, which is after the order was made.
    const margin = Math.min(3_600_000, deps.idempotencyTtlMs / 10);
    const keyMayBeGone = request.orderCreatedAt !== undefined && now() - request.orderCreatedAt.getTime() > deps.idempotencyTtlMs - margin;
    if (seq > 0 || keyMayBeGone) {
      const earlier = await adoptEarlier(orderId);
      if (earlier) return earlier;
    }
    let created: Stripe.PaymentIntent;
    try {
      created = await call('create intent', () =>
        stripe.paymentIntents.create(
          {
            amount: request.amountCents,
            currency: deps.currency,
            payment_method: paymentMethod,
            // Charged here, by the server, with no customer present: a method that needs a redirect cannot be used.
            automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
            confirm: false,
            description: `Order ${orderId}`,
            metadata: { order_id: orderId },
          },
          { idempotencyKey: `order_${orderId}_create_${seq}` },
        ),
      );
    } catch (error) {
      // The 5xx is saved with the key: asking again with it would get the same 5xx for a day.
      if (isSavedServerError((error as Error).cause ?? error)) await intents.nextCreateSeq(orderId, seq);
      throw error;
    }
    crash('after-intent-created');
    return adopt(orderId, created);
  }

  /**
   * Confirms the recorded intent. A decline answers 402 with the intent (now carrying the decline); an
   * intent that is past confirming (another attempt confirmed it) answers 400 with it: both are read as
   * the intent they carry. Each confirm has a key of its own: every attempt reads the intent before it
   * confirms, and Stripe refuses to confirm one that succeeded, so no key is needed to stop a second
   * charge, and a fixed one would replay a saved 5xx.
   */
  async function confirm(intent: Stripe.PaymentIntent): Promise<Stripe.PaymentIntent> {
    try {
      return await stripe.paymentIntents.confirm(intent.id, {}, { idempotencyKey: `confirm_${intent.id}_${crypto.randomUUID()}` });
    } catch (error) {
      const carried = (error as { payment_intent?: Stripe.PaymentIntent }).payment_intent;
      if (carried && (error instanceof Stripe.errors.StripeCardError || (error as { code?: string }).code === 'payment_intent_unexpected_state')) return carried;
      throw providerError(error, 'confirm intent');
    }
  }

  function toResult(intent: Stripe.PaymentIntent, outcome: IntentOutcome, source: 'reply' | 'read'): ChargeResult {
    switch (outcome.kind) {
      case 'succeeded':
        return { status: 'succeeded', chargeId: outcome.chargeId, source };
      case 'failed':
        return { status: 'declined', reason: outcome.reason, source };
      default:
        return { status: 'pending', intentId: intent.id };
    }
  }

  return {
    async charge(request) {
      const paymentMethod = request.paymentMethodId ?? (deps.live ? undefined : TEST_PAYMENT_METHOD);
      if (!paymentMethod) return { status: 'declined', reason: 'no_payment_method' };
      const recordedId = request.intent?.intentId;
      let intent = recordedId
        ? await call('retrieve intent', () => stripe.paymentIntents.retrieve(recordedId))
        : await createIntent(request, paymentMethod);
      let outcome = intentOutcome(intent);
      if (outcome.kind !== 'confirm') {
        // Decided before this attempt confirmed anything: a 3-D Secure intent is cancelled so it can never succeed later.
        if (intent.status === 'requires_action') await cancelLeftover(intent);
        return toResult(intent, outcome, 'read');
      }
      await rateLimit?.acquire();
      intent = await confirm(intent);
      crash('after-confirm');
      outcome = intentOutcome(intent);
      if (intent.status === 'requires_action') await cancelLeftover(intent);
      return toResult(intent, outcome, 'reply');
    },
  };
}
