import type { Database } from '../shared/db/client.ts';
import { Events, type OrderPlaced } from '../shared/pipeline/events.ts';
import { paymentCompletedEvent } from '../shared/pipeline/order-events.ts';
import type { OutboxWriter, StagedEvent } from '../shared/pipeline/outbox-writer.ts';
import type { OrderChanges } from '../shared/pipeline/order-changes.ts';
import type { Config } from '../shared/runtime/config.ts';
import type { BatchItem, BatchResult } from '../shared/streams/consumer.ts';
import { PoisonMessage } from '../shared/streams/poison-message.ts';
import { chargeWithRetries, type ChargeDeps, type PaymentResult } from './charge.ts';
import { pausesConsumer } from './errors.ts';
import { readOrdersToCharge, type OrderToCharge } from './orders-to-charge.ts';
import { markPaymentRetrying } from './record-outcome.ts';
import { recordOutcomes, type PaymentOutcome } from '../shared/payments/payment-outcomes.ts';
import { RetryLater } from '../shared/streams/retry-later.ts';

/** Where a test can make the worker die, to prove a crash there loses nothing and charges once. */
export type CrashPoint = Exclude<Config['testing']['crashAt'], 'none'>;

export interface PaymentHandlerDeps extends ChargeDeps {
  db: Database;
  /** Stages each outcome's `payment.completed`, and publishes it right after commit. */
  outbox: OutboxWriter;
  crash?: (point: CrashPoint) => void;
  /** Told about each outcome this worker recorded. */
  onOutcome?: (outcome: 'succeeded' | 'failed') => void;
  /**
   * How long an order whose charge failed may wait in Redis for its next scheduled attempt, at most
   * (the schedule's longest step, jittered up, plus margin): the reconciler leaves it alone that long.
   */
  retryHoldMs?: number;
  /** Told which orders got their outcome, after the commit, for the API's live streams (GET /orders/{id}/events). */
  orderChanges?: OrderChanges;
}

/**
 * Handles a batch of `orders.placed` events: charge each order once, record every outcome, announce
 * them. One read for the batch's orders, the gateway calls concurrent (each through the breaker and
 * its own retries), one statement writing every outcome, status and outbox row.
 *
 * Safe to run any number of times for the same order (replays, redeliveries, two workers at once,
 * the same order twice in a batch): the gateway's idempotency key stops a second charge, the
 * payment_attempts key a second outcome. An order the gateway could not be reached for is failed
 * alone (a transient error: the runner pauses and retries it); the rest of the batch goes on.
 */
export function createPaymentHandler(deps: PaymentHandlerDeps) {
  const { db, outbox, crash = () => {} } = deps;
  const sql = db.$client;
  return async function handleOrdersPlaced(batch: BatchItem<OrderPlaced>[]): Promise<BatchResult> {
    const logOf = ({ message, meta }: BatchItem<OrderPlaced>) =>
      deps.log.child({ order_id: message.payload.orderId, request_id: message.requestId, event_id: message.eventId, entry_id: meta.id });
    const orders = await readOrdersToCharge(sql, [...new Set(batch.map(({ message }) => message.payload.orderId))]);
    // The first entry of each order stands for it: the order's charge and its outcome's event go in that entry's work.
    const firstOf = new Map<string, BatchItem<OrderPlaced>>();
    for (const item of batch) if (!firstOf.has(item.message.payload.orderId)) firstOf.set(item.message.payload.orderId, item);

    // One charge per order, for the amount in the database.
    const toCharge = [...orders.values()].filter((order) => !order.hasOutcome);
    if (toCharge.length > 0) crash('before-charge');
    const settled = await Promise.allSettled(
      toCharge.map((order) => {
        const first = firstOf.get(order.id)!;
        return first.run(() =>
          chargeWithRetries(
            { ...deps, log: logOf(first) },
            { orderId: order.id, amountCents: order.totalCents, paymentMethodId: order.paymentMethodId, orderCreatedAt: order.createdAt, intent: order.intent },
          ),
        );
      }),
    );
    const charged = new Map(toCharge.map((order, i) => [order.id, settled[i]!]));
    if (toCharge.length > 0) crash('after-charge');

    const outcomes: PaymentOutcome[] = [];
    const announcements: StagedEvent[] = [];
    for (const [orderId, outcome] of charged) {
      if (outcome.status !== 'fulfilled' || outcome.value.outcome === 'pending') continue;
      outcomes.push({ orderId, ...outcome.value });
      const event = paymentCompletedEvent({ id: orderId, requestId: orders.get(orderId)!.requestId }, attemptOf(outcome.value));
      announcements.push(firstOf.get(orderId)!.run(() => outbox.stage(Events.paymentCompleted, event)));
    }
    // Orders whose charge failed wait in Redis for the retry schedule (not those the open breaker pauses:
    // their entries stay pending here): say so in PostgreSQL, so the reconciler does not take their
    // silence for a lost event and start their schedule over.
    // An intent the provider is still `processing` waits the same way: its webhook may well come first.
    const waiting = [...charged]
      .filter(([, outcome]) => (outcome.status === 'rejected' ? !pausesConsumer(outcome.reason) : outcome.value.outcome === 'pending'))
      .map(([orderId]) => orderId);
    if (waiting.length > 0 && deps.retryHoldMs) await markPaymentRetrying(sql, waiting, deps.retryHoldMs);
    const recorded = await outbox.written(announcements, { summary: 'INSERT payment_attempts outbox', operation: 'WITH' }, recordOutcomes(sql, outcomes, announcements));
    if (recorded.size > 0) outbox.kick();
    deps.orderChanges?.announce(recorded);
    if (outcomes.length > 0) crash('after-commit');

    const failed: NonNullable<BatchResult['failed']> = [];
    const told = new Set<string>();
    // One log line per entry, in the entry's own work (its trace ids on the line when tracing is on).
    const report = (item: BatchItem<OrderPlaced>, order: OrderToCharge) => {
      const { orderId } = item.message.payload;
      const log = logOf(item);
      const outcome = charged.get(orderId);
      if (!outcome) {
        log.info({ status: order.status }, 'payment already recorded; nothing to do');
      } else if (outcome.status === 'rejected') {
        failed.push({ id: item.meta.id, error: outcome.reason });
      } else if (outcome.value.outcome === 'pending') {
        log.info({ intent_id: outcome.value.intentId }, 'the provider is still processing the payment; its webhook or a later read will record it');
        failed.push({ id: item.meta.id, error: new RetryLater(`payment intent ${outcome.value.intentId} is processing at the provider`) });
      } else if (recorded.has(orderId) && !told.has(orderId)) {
        told.add(orderId);
        const result = outcome.value;
        deps.onOutcome?.(result.outcome);
        log.info(
          {
            outcome: result.outcome,
            attempts: result.attempts,
            ...(result.outcome === 'succeeded' ? { charge_id: result.chargeId } : { failure_reason: result.failureReason }),
            delivery: item.meta.deliveries,
          },
          'payment recorded',
        );
      } else {
        log.info('another delivery recorded the outcome first; nothing to do');
      }
    };
    for (const item of batch) {
      const order = orders.get(item.message.payload.orderId);
      if (!order) {
        failed.push({ id: item.meta.id, error: new PoisonMessage(`order ${item.message.payload.orderId} does not exist`) });
        continue;
      }
      item.run(() => report(item, order));
    }
    return { failed };
  };
}

function attemptOf(result: Exclude<PaymentResult, { outcome: 'pending' }>) {
  return {
    outcome: result.outcome,
    attempts: result.attempts,
    chargeId: result.outcome === 'succeeded' ? result.chargeId : null,
    failureReason: result.outcome === 'failed' ? result.failureReason : null,
  };
}
