import { eq } from 'drizzle-orm';
import type { Config } from '../shared/runtime/config.ts';
import type { Database } from '../shared/db/client.ts';
import { orders, paymentAttempts } from '../shared/db/schema.ts';
import { PoisonMessage } from '../shared/streams/poison-message.ts';
import type { OrderPlaced } from '../shared/pipeline/events.ts';
import type { MessageMeta } from '../shared/streams/consumer.ts';
import { chargeWithRetries, type ChargeDeps } from './charge.ts';
import { recordOutcome } from './record-outcome.ts';

/** Where a test can make the worker die, to prove a crash there loses nothing and charges once. */
export type CrashPoint = Exclude<Config['testing']['crashAt'], 'none'>;

export interface PaymentWorkerDeps extends ChargeDeps {
  db: Database;
  /** Publishes the payment.completed outbox row right after commit. */
  outbox: { kick(): void };
  crash?: (point: CrashPoint) => void;
  /** Told about each outcome this worker recorded. */
  onOutcome?: (outcome: 'succeeded' | 'failed') => void;
}

/**
 * Handles one `orders.placed` event: charge once, record the outcome, announce it.
 * Safe to run any number of times for the same order (replays, redeliveries, two workers at once):
 * the gateway's idempotency key stops a second charge, the payment_attempts key a second outcome.
 */
export function createPaymentHandler(deps: PaymentWorkerDeps) {
  const { db, crash = () => {} } = deps;
  return async function handleOrderPlaced(event: OrderPlaced, meta: MessageMeta): Promise<void> {
    const { orderId } = event.payload;
    const log = deps.log.child({ order_id: orderId, request_id: event.requestId, event_id: event.eventId, entry_id: meta.id });

    const [row] = await db
      .select({ order: orders, paidAttempt: paymentAttempts.orderId })
      .from(orders)
      .leftJoin(paymentAttempts, eq(paymentAttempts.orderId, orders.id))
      .where(eq(orders.id, orderId));
    if (!row) throw new PoisonMessage(`order ${orderId} does not exist`);
    if (row.paidAttempt) {
      log.info({ status: row.order.status }, 'payment already recorded; nothing to do');
      return;
    }

    crash('before-charge');
    // The amount comes from the database, the source of truth, not from the event.
    const result = await chargeWithRetries({ ...deps, log }, { idempotencyKey: orderId, amountCents: row.order.totalCents });
    crash('after-charge');

    const recorded = await recordOutcome(db, row.order, result);
    if (recorded) {
      deps.outbox.kick();
      deps.onOutcome?.(result.outcome);
      log.info({ outcome: result.outcome, attempts: result.attempts, ...(result.outcome === 'succeeded' ? { charge_id: result.chargeId } : { failure_reason: result.failureReason }), delivery: meta.deliveries }, 'payment recorded');
    } else {
      log.info('another delivery recorded the outcome first; nothing to do');
    }
    crash('after-commit');
  };
}
