import type { Database } from '../shared/db/client.ts';
import type { PaymentCompleted } from '../shared/pipeline/events.ts';
import type { OrderChanges } from '../shared/pipeline/order-changes.ts';
import type { Logger } from '../shared/runtime/log.ts';
import type { BatchItem, BatchResult } from '../shared/streams/consumer.ts';
import { PoisonMessage } from '../shared/streams/poison-message.ts';
import { RetryLater } from '../shared/streams/retry-later.ts';
import { decideAttempt } from './attempt-policy.ts';
import type { Channel } from './channel.ts';
import { recordDeferred, recordFailed, recordSent, registerDeliveries, startAttempts, type AttemptToStart } from './delivery-records.ts';
import type { NotifyMetrics } from './metrics.ts';
import { readOrderFacts, type OrderFacts } from './order-facts.ts';
import { persist } from './persist.ts';

/** Beyond the attempt's own deadline, which starts a moment after its lease: the lease outlasts the attempt. */
const LEASE_MARGIN_MS = 1000;

export interface DeliveryHandlerDeps {
  db: Database;
  log: Logger;
  channel: Channel;
  /**
   * The process's other channels. The first channel to read an order's event registers their deliveries
   * too (registerDeliveries), so one whose entry Redis loses before its group reads it is still found
   * by the reconciler.
   */
  otherChannels?: readonly Channel[];
  metrics: NotifyMetrics;
  /** Told which orders' deliveries this batch moved on, after their writes, for the API's live streams. */
  orderChanges?: OrderChanges;
}

/**
 * Handles a batch of `payment.completed` events for one channel: for each order, one delivery, told
 * at least once and, outside one window, exactly once. Each order's attempt is recorded before the
 * other side is asked (startAttempts: attempts + 1 and a lease), and its answer right after:
 * - accepted: `sent` (and, for the e-mail, `orders.notified_at`): a redelivered or re-emitted event
 *   finds it sent and sends nothing;
 * - deferred: the entry waits in Redis for the channel's schedule (RetryLater), the row says until when;
 * - refused (SMTP 5xx): `failed` with the reply, and the entry is dead-lettered at once;
 * - deferred on the schedule's last attempt: `failed`, and the consumer dead-letters it with every attempt.
 * The one window for a duplicate: the process dies between the other side's acceptance and the `sent`
 * commit (docs/notifications.md). An event about an order that does not exist is poison.
 */
export function createDeliveryHandler({ db, log: baseLog, channel, otherChannels = [], metrics, orderChanges }: DeliveryHandlerDeps) {
  const sql = db.$client;
  const leaseMs = channel.attemptTimeoutMs + LEASE_MARGIN_MS;
  for (const result of ['sent', 'deferred', 'refused', 'exhausted']) metrics.attempts.inc({ channel: channel.name, result }, 0);

  return async function handlePaymentsCompleted(batch: BatchItem<PaymentCompleted>[]): Promise<BatchResult> {
    const logOf = ({ message, meta }: BatchItem<PaymentCompleted>) =>
      baseLog.child({ order_id: message.payload.orderId, request_id: message.requestId, event_id: message.eventId, entry_id: meta.id, channel: channel.name });
    // The first entry of each order stands for it; the others are copies, acknowledged with it.
    const firstOf = new Map<string, BatchItem<PaymentCompleted>>();
    for (const item of batch) if (!firstOf.has(item.message.payload.orderId)) firstOf.set(item.message.payload.orderId, item);
    const facts = await readOrderFacts(sql, [...firstOf.keys()], channel.name);

    const failed: NonNullable<BatchResult['failed']> = [];
    const toStart: { item: BatchItem<PaymentCompleted>; order: OrderFacts; start: AttemptToStart }[] = [];
    for (const [orderId, item] of firstOf) {
      const order = facts.get(orderId);
      const log = logOf(item);
      if (!order) {
        failed.push({ id: item.meta.id, error: new PoisonMessage(`order ${orderId} does not exist, or has no payment outcome`) });
      } else if (!channel.appliesTo(order)) {
        item.run(() => log.info({ outcome: order.outcome }, 'nothing to tell on this channel'));
      } else if (order.delivery?.status === 'sent') {
        item.run(() => log.info('already delivered; nothing to do'));
      } else if (order.delivery?.status === 'failed' && (item.meta.attempt ?? 1) > 1) {
        // Its own retry after it failed for good (the dead letter was written): nothing more to do.
        item.run(() => log.info('delivery failed for good before; nothing to do'));
      } else {
        const { recipient, messageId } = channel.address(order);
        toStart.push({ item, order, start: { orderId, recipient, messageId, outcome: order.outcome, eventId: item.message.eventId, requestId: item.message.requestId } });
      }
    }
    // Copies of an order's event in the same batch: its first entry carries the work, they are acknowledged.
    for (const item of batch) {
      if (firstOf.get(item.message.payload.orderId) === item) continue;
      if (facts.has(item.message.payload.orderId)) item.run(() => logOf(item).info('a copy of an event in the same batch; its first entry delivers'));
      else failed.push({ id: item.meta.id, error: new PoisonMessage(`order ${item.message.payload.orderId} does not exist, or has no payment outcome`) });
    }

    await registerDeliveries(sql, registrations(firstOf, facts));
    const started = await startAttempts(sql, channel.name, toStart.map(({ start }) => start), leaseMs);
    // Each order on its own: one whose attempt failed on a fault of ours (PostgreSQL away) fails alone.
    // Its change is announced as soon as its answer is recorded, not once the whole batch's are.
    const outcomes = await Promise.allSettled(toStart.map(({ item, order, start }) => item.run(() => deliver(item, order, start, started.get(order.id))).finally(() => orderChanges?.announce([order.id]))));
    outcomes.forEach((outcome, i) => {
      const error = outcome.status === 'rejected' ? outcome.reason : outcome.value;
      if (error !== undefined) failed.push({ id: toStart[i]!.item.meta.id, error });
    });
    return { failed };

    /** The other channels' deliveries of the batch's orders, each where its channel tells the order at all. */
    function registrations(items: Map<string, BatchItem<PaymentCompleted>>, orders: Map<string, OrderFacts>) {
      return [...items].flatMap(([orderId, item]) => {
        const order = orders.get(orderId);
        if (!order) return [];
        return otherChannels
          .filter((other) => other.appliesTo(order))
          .map((other) => ({ channel: other.name, orderId, ...other.address(order), outcome: order.outcome, eventId: item.message.eventId, requestId: item.message.requestId }));
      });
    }

    /** One order's attempt: what the other side answered, recorded; what the consumer should do with the entry (undefined: acknowledge it). */
    async function deliver(item: BatchItem<PaymentCompleted>, order: OrderFacts, start: AttemptToStart, attempt: number | undefined): Promise<Error | undefined> {
      const log = logOf(item);
      if (attempt === undefined) {
        // Another attempt holds the lease (a copy of the event, a replica that died sending it): look again once it ends.
        const waitMs = Math.max(order.delivery?.leasedForMs ?? 0, 1000);
        log.info({ wait_ms: waitMs }, 'another attempt of this delivery is under way; looking again later');
        return new RetryLater('another attempt of this delivery is under way', { retryAfterMs: waitMs });
      }
      const context = { message_id: start.messageId, attempt, schedule_attempt: item.meta.attempt ?? 1 };
      // The line a crash is judged by: `delivering` without `delivered` after it is the one window for a duplicate.
      log.info(context, 'delivering');
      const startedAt = performance.now();
      const result = await channel.send(order);
      metrics.attemptSeconds.observe({ channel: channel.name }, (performance.now() - startedAt) / 1000);
      const decision = decideAttempt(result, item.meta.attempt ?? 1, channel.retryScheduleMs);
      switch (decision.record) {
        case 'sent':
          await persist(() => recordSent(sql, channel.name, order.id), { budgetMs: leaseMs });
          metrics.attempts.inc({ channel: channel.name, result: 'sent' });
          log.info({ ...context, reply: result.reply }, 'delivered');
          return undefined;
        case 'deferred':
          await recordDeferred(sql, channel.name, order.id, attempt, result.reply, decision.holdMs);
          metrics.attempts.inc({ channel: channel.name, result: 'deferred' });
          log.warn({ ...context, reply: result.reply, retry_after_ms: decision.retryAfterMs }, 'delivery deferred; retrying on the schedule');
          return new RetryLater(result.reply, { retryAfterMs: decision.retryAfterMs });
        case 'failed':
          await recordFailed(sql, channel.name, order.id, attempt, result.reply);
          metrics.attempts.inc({ channel: channel.name, result: decision.because });
          log.error({ ...context, reply: result.reply, because: decision.because }, decision.because === 'refused' ? 'delivery refused; failed for good' : 'delivery failed; the retry schedule is spent');
          // Refused: no retry can help, so the entry is dead-lettered now with the reply. Spent: the
          // consumer finds no step left and dead-letters it with every attempt's reason.
          return decision.because === 'refused' ? new PoisonMessage(`${channel.name} refused: ${result.reply}`) : new RetryLater(result.reply);
      }
    }
  };
}
