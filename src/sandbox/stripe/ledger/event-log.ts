import { newId } from '../ids.ts';
import type { PaymentIntent } from '../payment-intent.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import type { EventType, StripeEvent } from './stripe-event.ts';

/** The API request behind a change, as events name it. */
export interface RequestRef {
  id: string | null;
  idempotencyKey: string | null;
}

export interface EventLogDeps {
  store: LedgerStore;
  apiVersion: string;
  /** Every event is to be delivered to each of these. */
  webhookUrls: string[];
  now: () => number;
  /** Told when a delivery was queued, so it goes out now rather than at the next tick. */
  onQueued: () => void;
}

/** Records an event for every state change, and queues its webhook deliveries in the same transaction. */
export function createEventLog({ store, apiVersion, webhookUrls, now, onQueued }: EventLogDeps) {
  return {
    /** Call inside the transaction that made the change. */
    record(type: EventType, intent: PaymentIntent, request: RequestRef): StripeEvent {
      const at = now();
      const event: StripeEvent = {
        id: newId('evt'),
        object: 'event',
        api_version: apiVersion,
        created: Math.floor(at / 1000),
        data: { object: intent },
        livemode: false,
        pending_webhooks: webhookUrls.length,
        request: { id: request.id, idempotency_key: request.idempotencyKey },
        type,
      };
      store.events.insert(event);
      for (const url of webhookUrls) store.deliveries.add(event.id, url, at);
      if (webhookUrls.length > 0) onQueued();
      return event;
    },

    /** The event as it reads now: `pending_webhooks` counts the endpoints still waiting for it. */
    current(event: StripeEvent): StripeEvent {
      return { ...event, pending_webhooks: store.deliveries.undeliveredFor(event.id) };
    },
  };
}

export type EventLog = ReturnType<typeof createEventLog>;
