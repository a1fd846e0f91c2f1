import type { Sql } from 'postgres';
import type { DeliveryChannel, PaymentAttempt } from '../shared/db/schema.ts';

/** A delivery about to be attempted: what the first attempt writes into its row. */
export interface AttemptToStart {
  orderId: string;
  recipient: string;
  messageId: string;
  outcome: PaymentAttempt['outcome'];
  eventId: string;
  requestId: string;
}

/**
 * Registers each delivery as `pending` with no attempt yet, unless the order already has one on its
 * channel. The channel that reads an order's `payment.completed` first registers the other channels'
 * deliveries with its own: the stream entry is the only other record that they are owed, and Redis may
 * lose it before their groups read it. From this row the reconciler finds a delivery whose entry was
 * lost and emits the event again (src/shared/pipeline/reconciler.ts).
 */
export async function registerDeliveries(sql: Sql, deliveries: readonly (AttemptToStart & { channel: DeliveryChannel })[]): Promise<void> {
  if (deliveries.length === 0) return;
  const column = <K extends keyof AttemptToStart | 'channel'>(key: K) => deliveries.map((delivery) => delivery[key]);
  await sql`
    insert into deliveries (order_id, channel, recipient, message_id, outcome, event_id, request_id)
    select b.order_id, b.channel::delivery_channel, b.recipient, b.message_id, b.outcome::payment_outcome, b.event_id, b.request_id
    from unnest(
      ${column('orderId')}::uuid[], ${column('channel')}::text[], ${column('recipient')}::text[], ${column('messageId')}::text[],
      ${column('outcome')}::text[], ${column('eventId')}::uuid[], ${column('requestId')}::text[]
    ) as b(order_id, channel, recipient, message_id, outcome, event_id, request_id)
    on conflict (order_id, channel) do nothing`;
}

/**
 * Starts an attempt of each delivery in one statement, recording it before the other side is asked
 * (Stripe's advice for any call that cannot be taken back): the row is created or moved on to
 * attempts + 1, with a lease of `leaseMs` during which no copy of the event starts another attempt.
 * Returns the attempt number of each delivery started. One not started is already sent, failed for
 * good, or leased to an attempt under way: the caller tells which from what it read before. A delivery
 * that failed for good starts again here too: the caller passes one only for a new entry of the event
 * (a replayed dead letter, a re-emitted event), never for its own retries.
 */
export async function startAttempts(sql: Sql, channel: DeliveryChannel, attempts: readonly AttemptToStart[], leaseMs: number): Promise<Map<string, number>> {
  if (attempts.length === 0) return new Map();
  const column = <K extends keyof AttemptToStart>(key: K) => attempts.map((attempt) => attempt[key]);
  const rows = await sql<{ order_id: string; attempts: number }[]>`
    insert into deliveries as d (order_id, channel, recipient, message_id, outcome, event_id, request_id, attempts, sending_until)
    select b.order_id, ${channel}, b.recipient, b.message_id, b.outcome::payment_outcome, b.event_id, b.request_id, 1, now() + make_interval(secs => ${leaseMs / 1000})
    from unnest(
      ${column('orderId')}::uuid[], ${column('recipient')}::text[], ${column('messageId')}::text[], ${column('outcome')}::text[],
      ${column('eventId')}::uuid[], ${column('requestId')}::text[]
    ) as b(order_id, recipient, message_id, outcome, event_id, request_id)
    on conflict (order_id, channel) do update set
      attempts = d.attempts + 1,
      status = 'pending',
      recipient = excluded.recipient,
      message_id = excluded.message_id,
      sending_until = excluded.sending_until,
      retry_until = null,
      updated_at = now()
    where d.status <> 'sent' and (d.sending_until is null or d.sending_until <= now())
    returning d.order_id, d.attempts`;
  return new Map(rows.map((row) => [row.order_id, row.attempts]));
}

/**
 * The other side accepted it: `sent`, for good; for the e-mail, the order is notified in the same
 * statement. Not fenced by the attempt: whichever attempt got the acceptance, the message is out.
 */
export async function recordSent(sql: Sql, channel: DeliveryChannel, orderId: string): Promise<void> {
  await sql`
    with sent as (
      update deliveries set status = 'sent', sent_at = coalesce(sent_at, now()), sending_until = null, retry_until = null, updated_at = now()
      where order_id = ${orderId} and channel = ${channel}
      returning order_id, sent_at, channel
    )
    update orders o set notified_at = coalesce(o.notified_at, sent.sent_at)
    from sent where o.id = ${orderId} and o.id = sent.order_id and sent.channel = 'email'`;
}

/**
 * The attempt was deferred: its reason, its lease released, and until when the delivery waits in
 * Redis (the reconciler leaves it alone until then). Fenced by the attempt number, so a late answer
 * never overwrites a later attempt's record.
 */
export async function recordDeferred(sql: Sql, channel: DeliveryChannel, orderId: string, attempt: number, reason: string, waitsForMs: number): Promise<void> {
  await sql`
    update deliveries set last_error = ${reason}, sending_until = null, retry_until = now() + make_interval(secs => ${waitsForMs / 1000}), updated_at = now()
    where order_id = ${orderId} and channel = ${channel} and status = 'pending' and attempts = ${attempt}`;
}

/** Failed for good (refused, or every retry spent): `failed` with the other side's last answer. Fenced like recordDeferred. */
export async function recordFailed(sql: Sql, channel: DeliveryChannel, orderId: string, attempt: number, reason: string): Promise<void> {
  await sql`
    update deliveries set status = 'failed', last_error = ${reason}, sending_until = null, retry_until = null, updated_at = now()
    where order_id = ${orderId} and channel = ${channel} and status = 'pending' and attempts = ${attempt}`;
}
