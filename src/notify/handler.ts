import type { Database } from '../shared/db/client.ts';
import type { PaymentCompleted } from '../shared/pipeline/events.ts';
import type { Logger } from '../shared/runtime/log.ts';
import type { BatchItem, BatchResult } from '../shared/streams/consumer.ts';
import { PoisonMessage } from '../shared/streams/poison-message.ts';
import { recordNotifications } from './record-notifications.ts';

export interface NotifyHandlerDeps {
  db: Database;
  log: Logger;
}

/**
 * Handles a batch of `payment.completed` events in one statement: tells each customer (here, a
 * structured log line stands in for the e-mail) and records it. The notification row is keyed by
 * order, and the log line is only written when that row was new, so a redelivered or re-emitted
 * event notifies nobody twice. An event about an order that does not exist is poison.
 */
export function createNotifyHandler({ db, log: baseLog }: NotifyHandlerDeps) {
  const sql = db.$client;
  return async function handlePaymentsCompleted(batch: BatchItem<PaymentCompleted>[]): Promise<BatchResult> {
    const byOrder = await recordNotifications(sql, batch.map(({ message }) => message));
    const failed: NonNullable<BatchResult['failed']> = [];
    const told = new Set<string>();
    for (const item of batch) {
      const { message: event, meta } = item;
      const { orderId, outcome } = event.payload;
      const row = byOrder.get(orderId);
      if (!row || row.state === 'missing') {
        failed.push({ id: meta.id, error: new PoisonMessage(`order ${orderId} does not exist`) });
        continue;
      }
      const log = baseLog.child({ order_id: orderId, request_id: event.requestId, event_id: event.eventId, entry_id: meta.id });
      if (row.state !== 'created' || told.has(orderId)) {
        item.run(() => log.info('customer already notified; nothing to do'));
        continue;
      }
      told.add(orderId);
      // The notification itself: one line per order, everything a mailer would need, in the entry's work.
      item.run(() =>
        log.info(
          {
            channel: row.channel,
            email: row.recipient,
            outcome,
            total_cents: row.total_cents,
            ...(event.payload.failureReason ? { failure_reason: event.payload.failureReason } : {}),
            notified_at: row.created_at && new Date(row.created_at).toISOString(),
          },
          outcome === 'succeeded' ? 'customer notified: payment received' : 'customer notified: payment failed',
        ),
      );
    }
    return { failed };
  };
}
