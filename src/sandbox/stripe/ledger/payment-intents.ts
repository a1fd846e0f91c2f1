import { cardError, resourceMissing, unexpectedState, type StripeApiError } from '../errors.ts';
import { newId } from '../ids.ts';
import { CANCELABLE, CONFIRMABLE, type CancellationReason, type PaymentIntent } from '../payment-intent.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { TEST_CARDS } from '../test-cards.ts';
import { applyCardOutcome, type ConfirmOptions } from './card-outcome.ts';
import type { EventLog, RequestRef } from './event-log.ts';

export interface CreateIntent {
  amount: number;
  currency: string;
  paymentMethod: string | null;
  confirm: boolean;
  description: string | null;
  metadata: Record<string, string>;
  customer: string | null;
  captureMethod: PaymentIntent['capture_method'];
  automaticPaymentMethods: PaymentIntent['automatic_payment_methods'];
  paymentMethodTypes: string[];
  receiptEmail: string | null;
  statementDescriptor: string | null;
  statementDescriptorSuffix: string | null;
  confirmOptions: ConfirmOptions;
}

export interface ConfirmIntent {
  paymentMethod: string | null;
  confirmOptions: ConfirmOptions;
}

/** How a confirm goes when the `processing` fault hits it: the outcome is due this much later. */
export interface Processing {
  delayMs: number;
}

/** Asked only when a card is about to be charged, so the fault counts confirms and nothing else. */
export type ProcessingFault = () => Processing | undefined;

const CONFIRMABLE_LIST = 'requires_confirmation, requires_action, requires_payment_method';
const CANCELABLE_LIST = 'requires_payment_method, requires_capture, requires_confirmation, requires_action';

/**
 * What the PaymentIntents endpoints do to the ledger. Every change is one transaction with its
 * events; a decline is saved first and then thrown as the 402 that carries the intent, as Stripe answers.
 */
export function createPaymentIntents({ store, events, now }: { store: LedgerStore; events: EventLog; now: () => number }) {
  const seconds = () => Math.floor(now() / 1000);

  /** A test token (pm_card_visa) or a PaymentMethod made from one; anything else is not there. */
  function checkPaymentMethod(given: string, param: string): void {
    if (Object.hasOwn(TEST_CARDS, given) || store.paymentMethods.get(given)) return;
    throw resourceMissing('PaymentMethod', given, param);
  }

  /** Stripe makes a new PaymentMethod each time a test token is used. */
  function attach(given: string): string {
    if (!Object.hasOwn(TEST_CARDS, given)) return given;
    const id = newId('pm');
    store.paymentMethods.insert(id, given, seconds());
    return id;
  }

  /** Confirms `intent` (saved by the caller's transaction); a decline comes back as the error to throw. */
  function confirmInTransaction(intent: PaymentIntent, confirm: ConfirmIntent, request: RequestRef, processingFault?: ProcessingFault): { intent: PaymentIntent; decline?: StripeApiError } {
    if (confirm.paymentMethod) intent.payment_method = attach(confirm.paymentMethod);
    if (!intent.payment_method) {
      throw unexpectedState(intent, "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent, pass in a payment_method and try again.");
    }
    const processing = processingFault?.();
    if (processing) {
      intent.status = 'processing';
      intent.processing = { type: 'card' };
      intent.last_payment_error = null;
      store.intents.update(intent, now() + processing.delayMs);
      events.record('payment_intent.processing', intent, request);
      return { intent };
    }
    const settled = applyCardOutcome({ store, events, now }, intent, confirm.confirmOptions, request);
    return { intent: settled.intent, decline: settled.error && cardError(settled.intent, settled.error) };
  }

  return {
    checkPaymentMethod,

    /** The intent, or 404 resource_missing. */
    get(id: string): PaymentIntent {
      const intent = store.intents.get(id);
      if (!intent) throw resourceMissing('payment_intent', id);
      return intent;
    },

    create(command: CreateIntent, request: RequestRef, processing?: ProcessingFault): PaymentIntent {
      const result = store.atomically(() => {
        const id = newId('pi');
        const intent: PaymentIntent = {
          id,
          object: 'payment_intent',
          amount: command.amount,
          amount_capturable: 0,
          amount_details: { tip: {} },
          amount_received: 0,
          application: null,
          application_fee_amount: null,
          automatic_payment_methods: command.automaticPaymentMethods,
          canceled_at: null,
          cancellation_reason: null,
          capture_method: command.captureMethod,
          client_secret: `${id}_secret_${newId('x').slice(2)}`,
          confirmation_method: 'automatic',
          created: seconds(),
          currency: command.currency,
          customer: command.customer,
          description: command.description,
          last_payment_error: null,
          latest_charge: null,
          livemode: false,
          metadata: command.metadata,
          next_action: null,
          on_behalf_of: null,
          payment_method: command.paymentMethod ? attach(command.paymentMethod) : null,
          payment_method_configuration_details: null,
          payment_method_options: { card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
          payment_method_types: command.paymentMethodTypes,
          processing: null,
          receipt_email: command.receiptEmail,
          review: null,
          setup_future_usage: null,
          shipping: null,
          source: null,
          statement_descriptor: command.statementDescriptor,
          statement_descriptor_suffix: command.statementDescriptorSuffix,
          status: command.paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
          transfer_data: null,
          transfer_group: null,
        };
        store.intents.insert(intent, now());
        events.record('payment_intent.created', intent, request);
        if (!command.confirm) return { intent };
        return confirmInTransaction(intent, { paymentMethod: null, confirmOptions: command.confirmOptions }, request, processing);
      });
      if (result.decline) throw result.decline;
      return result.intent;
    },

    confirm(id: string, command: ConfirmIntent, request: RequestRef, processing?: ProcessingFault): PaymentIntent {
      const result = store.atomically(() => {
        const intent = store.intents.get(id);
        if (!intent) throw resourceMissing('payment_intent', id);
        // `succeeded` is terminal: an intent charges at most once, however often it is confirmed.
        if (!CONFIRMABLE.has(intent.status)) {
          throw unexpectedState(intent, `You cannot confirm this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be confirmed: ${CONFIRMABLE_LIST}.`);
        }
        return confirmInTransaction(intent, command, request, processing);
      });
      if (result.decline) throw result.decline;
      return result.intent;
    },

    cancel(id: string, reason: CancellationReason | null, request: RequestRef): PaymentIntent {
      return store.atomically(() => {
        const intent = store.intents.get(id);
        if (!intent) throw resourceMissing('payment_intent', id);
        if (!CANCELABLE.has(intent.status)) {
          throw unexpectedState(intent, `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE_LIST}.`);
        }
        intent.status = 'canceled';
        intent.canceled_at = seconds();
        intent.cancellation_reason = reason;
        intent.next_action = null;
        store.intents.update(intent);
        events.record('payment_intent.canceled', intent, request);
        return intent;
      });
    },

    /** Gives processing intents whose time has come their outcome; announced only by their events. */
    settleDue(): void {
      for (const id of store.intents.dueToSettle(now())) {
        store.atomically(() => {
          const intent = store.intents.get(id);
          if (intent?.status !== 'processing') return;
          intent.processing = null;
          applyCardOutcome({ store, events, now }, intent, { offSession: false, errorOnRequiresAction: false }, { id: null, idempotencyKey: null });
        });
      }
    },
  };
}

export type PaymentIntents = ReturnType<typeof createPaymentIntents>;
