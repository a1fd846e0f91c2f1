import type { Sql } from 'postgres';
import { Events } from '../pipeline/events.ts';
import { paymentCompletedEvent } from '../pipeline/order-events.ts';
import type { OutboxWriter } from '../pipeline/outbox-writer.ts';
import { intentOutcome, type IntentState } from './intent-outcome.ts';
import { recordOutcomes } from './payment-outcomes.ts';

/** A verified provider event, as much of it as this reads (Stripe's Event object). */
export interface ProviderEvent {
  id: string;
  type: string;
  data: { object: unknown };
}

export type WebhookResult =
  /** The outcome is recorded now, by this event. */
  | 'recorded'
  /** Recorded before (by the worker, or an earlier copy of the event): nothing changed. */
  | 'known'
  /** This event id was handled before. */
  | 'duplicate'
  /** Not about an intent of one of our orders (another system on the same account, a leftover intent), or a type we do not act on. */
  | 'ignored'
  /** The intent is still processing: the outcome comes later. */
  | 'pending';

/** The intent events that can carry an outcome; every other type is answered 2xx and ignored. */
const OUTCOME_EVENTS = new Set(['payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled', 'payment_intent.processing']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type EventIntent = IntentState & { metadata?: Record<string, string> | null };

/**
 * Records the outcome a provider event carries, once, whoever came first (the worker's confirm reply,
 * its later read, or this): payment_attempts is keyed by order, so a second recording writes nothing.
 * Only the order's recorded intent counts: an event about any other intent (a leftover that was
 * cancelled, another system's) changes nothing. The event id is remembered after the outcome is
 * written, so a copy arriving later is known at once; a crash in between only means the copy is
 * looked at again and records nothing.
 */
export async function handleProviderEvent(sql: Sql, outbox: OutboxWriter, event: ProviderEvent): Promise<{ result: WebhookResult; orderId?: string }> {
  // Signed by the provider, so not hostile, but not necessarily an event we can read: never a 5xx for it.
  if (typeof event.id !== 'string' || !OUTCOME_EVENTS.has(event.type) || typeof event.data?.object !== 'object' || event.data.object === null) return { result: 'ignored' };
  const [seen] = await sql`select 1 from provider_events where id = ${event.id}`;
  if (seen) return { result: 'duplicate' };
  const intent = event.data.object as EventIntent;
  const orderId = intent.metadata?.order_id;
  if (!orderId || !UUID.test(orderId)) return { result: 'ignored' };
  const [order] = await sql<{ request_id: string; intent_id: string | null }[]>`
    select o.request_id, i.intent_id from orders o join payment_intents i on i.order_id = o.id where o.id = ${orderId}`;
  if (!order || order.intent_id !== intent.id) return { result: 'ignored', orderId };

  const outcome = intentOutcome(intent);
  let result: WebhookResult = 'pending';
  if (outcome.kind === 'succeeded' || outcome.kind === 'failed') {
    const attempt =
      outcome.kind === 'succeeded'
        ? { orderId, outcome: 'succeeded' as const, chargeId: outcome.chargeId, attempts: 1, source: 'webhook' as const }
        : { orderId, outcome: 'failed' as const, failureReason: outcome.reason, attempts: 1, source: 'webhook' as const };
    const announcement = outbox.stage(
      Events.paymentCompleted,
      paymentCompletedEvent({ id: orderId, requestId: order.request_id }, {
        outcome: attempt.outcome,
        attempts: attempt.attempts,
        chargeId: attempt.outcome === 'succeeded' ? attempt.chargeId : null,
        failureReason: attempt.outcome === 'failed' ? attempt.failureReason : null,
      }),
    );
    const recorded = await outbox.written([announcement], { summary: 'INSERT payment_attempts outbox', operation: 'WITH' }, recordOutcomes(sql, [attempt], [announcement]));
    if (recorded.size > 0) outbox.kick();
    result = recorded.size > 0 ? 'recorded' : 'known';
  } else {
    await sql`update payment_intents set status = ${intent.status}, updated_at = now() where order_id = ${orderId} and intent_id = ${intent.id}`;
  }
  await sql`insert into provider_events (id, type) values (${event.id}, ${event.type}) on conflict do nothing`;
  return { result, orderId };
}
