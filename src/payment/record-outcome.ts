import { eq, sql } from 'drizzle-orm';
import type { Database } from '../shared/db/client.ts';
import { orders, paymentAttempts, type Order } from '../shared/db/schema.ts';
import { Events } from '../shared/pipeline/events.ts';
import { paymentCompletedEvent } from '../shared/pipeline/order-events.ts';
import { addToOutbox } from '../shared/pipeline/outbox.ts';
import type { PaymentResult } from './charge.ts';

/**
 * One transaction: the payment attempt, the order's new status and the `payment.completed`
 * outbox row. Returns false when the order already had an outcome (another worker, or an earlier
 * delivery, got there first): then nothing is written.
 */
export async function recordOutcome(db: Database, order: Order, result: PaymentResult): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [attempt] = await tx
      .insert(paymentAttempts)
      .values({
        orderId: order.id,
        outcome: result.outcome,
        attempts: result.attempts,
        chargeId: result.outcome === 'succeeded' ? result.chargeId : null,
        failureReason: result.outcome === 'failed' ? result.failureReason : null,
      })
      .onConflictDoNothing()
      .returning();
    if (!attempt) return false;
    await tx
      .update(orders)
      .set({ status: result.outcome === 'succeeded' ? 'paid' : 'payment_failed', updatedAt: sql`now()` })
      .where(eq(orders.id, order.id));
    await addToOutbox(tx, Events.paymentCompleted, paymentCompletedEvent(order, attempt), order.id);
    return true;
  });
}
