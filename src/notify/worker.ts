import { and, eq, isNull } from 'drizzle-orm';
import type { Database } from '../shared/db/client.ts';
import { notifications, orders } from '../shared/db/schema.ts';
import { PoisonMessage } from '../shared/streams/poison-message.ts';
import type { PaymentCompleted } from '../shared/pipeline/events.ts';
import type { Logger } from '../shared/runtime/log.ts';
import type { MessageMeta } from '../shared/streams/consumer.ts';

export interface NotifyWorkerDeps {
  db: Database;
  log: Logger;
}

/**
 * Handles one `payment.completed` event: tells the customer (here, a structured log line stands in
 * for the e-mail) and records it. The notification row is keyed by order, and the log line is only
 * written when that row was new, so a redelivered or re-emitted event notifies nobody twice.
 */
export function createNotifyHandler({ db, log: baseLog }: NotifyWorkerDeps) {
  return async function handlePaymentCompleted(event: PaymentCompleted, meta: MessageMeta): Promise<void> {
    const { orderId, outcome, customerEmail } = event.payload;
    const log = baseLog.child({ order_id: orderId, request_id: event.requestId, event_id: event.eventId, entry_id: meta.id });

    const created = await db.transaction(async (tx) => {
      const [order] = await tx.select({ id: orders.id }).from(orders).where(eq(orders.id, orderId));
      if (!order) throw new PoisonMessage(`order ${orderId} does not exist`);
      const [row] = await tx
        .insert(notifications)
        .values({ orderId, eventId: event.eventId, recipient: customerEmail, outcome, requestId: event.requestId })
        .onConflictDoNothing()
        .returning();
      if (!row) return undefined;
      await tx.update(orders).set({ notifiedAt: row.createdAt }).where(and(eq(orders.id, orderId), isNull(orders.notifiedAt)));
      return row;
    });

    if (!created) {
      log.info('customer already notified; nothing to do');
      return;
    }
    // The notification itself: one line per order, everything a mailer would need.
    log.info(
      {
        channel: created.channel,
        email: customerEmail,
        outcome,
        total_cents: event.payload.totalCents,
        ...(event.payload.failureReason ? { failure_reason: event.payload.failureReason } : {}),
        notified_at: created.createdAt.toISOString(),
      },
      outcome === 'succeeded' ? 'customer notified: payment received' : 'customer notified: payment failed',
    );
  };
}

