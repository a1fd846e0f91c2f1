import type { Database } from '../shared/db/client.ts';
import { Events, type OrderPlaced } from '../shared/pipeline/events.ts';
import type { Config } from '../shared/runtime/config.ts';
import type { BatchItem, BatchResult } from '../shared/streams/consumer.ts';
import { PoisonMessage } from '../shared/streams/poison-message.ts';
import { entryContext, withEntryContext } from '../shared/tracing/consumer-spans.ts';
import { withDatabaseSpan } from '../shared/tracing/database-spans.ts';
import { startPublishSpan, type PublishSpan } from '../shared/tracing/producer-spans.ts';
import { APP_ORDER_ID } from '../shared/tracing/semconv.ts';
import { DISABLED_TRACING, type Tracing } from '../shared/tracing/tracing.ts';
import { chargeWithRetries, type ChargeDeps, type PaymentResult } from './charge.ts';
import { recordOutcomes, type OrderFacts } from './record-outcome.ts';

/** Where a test can make the worker die, to prove a crash there loses nothing and charges once. */
export type CrashPoint = Exclude<Config['testing']['crashAt'], 'none'>;

export interface PaymentWorkerDeps extends ChargeDeps {
  db: Database;
  /** Publishes the payment.completed outbox rows right after commit. */
  outbox: { kick(): void };
  crash?: (point: CrashPoint) => void;
  /** Told about each outcome this worker recorded. */
  onOutcome?: (outcome: 'succeeded' | 'failed') => void;
  /** Each outcome's `payment.completed` gets a publish span in its order's trace; the batch's statement a database span. */
  tracing?: Tracing;
}

interface OrderRow {
  id: string;
  customer_email: string;
  total_cents: number;
  request_id: string;
  status: string;
  has_outcome: boolean;
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
export function createPaymentHandler(deps: PaymentWorkerDeps) {
  const { db, crash = () => {}, tracing = DISABLED_TRACING } = deps;
  const sql = db.$client;
  return async function handleOrdersPlaced(batch: BatchItem<OrderPlaced>[]): Promise<BatchResult> {
    const logOf = ({ message, meta }: BatchItem<OrderPlaced>) =>
      deps.log.child({ order_id: message.payload.orderId, request_id: message.requestId, event_id: message.eventId, entry_id: meta.id });
    const ids = [...new Set(batch.map(({ message }) => message.payload.orderId))];
    const rows = await sql<OrderRow[]>`
      select o.id, o.customer_email, o.total_cents, o.request_id, o.status::text as status, (p.order_id is not null) as has_outcome
      from orders o left join payment_attempts p on p.order_id = o.id
      where o.id = any(${ids}::uuid[])`;
    const orders = new Map(rows.map((row) => [row.id, row]));

    // The amount comes from the database, the source of truth, not from the event; one charge per order.
    const toCharge = rows.filter((row) => !row.has_outcome);
    if (toCharge.length > 0) crash('before-charge');
    const charged = new Map<string, PromiseSettledResult<PaymentResult>>();
    // The first entry of each order stands for it: its trace is where the order's charge and outcome go.
    const firstOf = new Map<string, BatchItem<OrderPlaced>>();
    for (const item of batch) if (!firstOf.has(item.message.payload.orderId)) firstOf.set(item.message.payload.orderId, item);
    const settled = await Promise.allSettled(
      toCharge.map((row) => {
        const first = firstOf.get(row.id)!;
        return withEntryContext(first.meta.id, () => chargeWithRetries({ ...deps, log: logOf(first) }, { idempotencyKey: row.id, amountCents: row.total_cents }));
      }),
    );
    toCharge.forEach((row, i) => charged.set(row.id, settled[i]!));
    if (toCharge.length > 0) crash('after-charge');

    const outcomes: { order: OrderFacts; result: PaymentResult; traceparent?: string }[] = [];
    const publishing: PublishSpan[] = [];
    for (const [id, outcome] of charged) {
      const row = orders.get(id)!;
      if (outcome.status === 'fulfilled') {
        // A child of this order's process span: the notify worker's span descends from it in turn.
        const publish = startPublishSpan(tracing, Events.paymentCompleted.stream, { parent: entryContext(firstOf.get(id)!.meta.id), attributes: { [APP_ORDER_ID]: id } });
        publishing.push(publish);
        outcomes.push({
          order: { id, customerEmail: row.customer_email, totalCents: row.total_cents, requestId: row.request_id },
          result: outcome.value,
          traceparent: publish.traceparent,
        });
      }
    }
    let recorded: Set<string>;
    try {
      recorded = await withDatabaseSpan(tracing, { summary: 'INSERT payment_attempts outbox', operation: 'WITH' }, () => recordOutcomes(db, outcomes));
    } catch (error) {
      for (const publish of publishing) publish.end(error);
      throw error;
    }
    for (const publish of publishing) publish.end();
    if (recorded.size > 0) deps.outbox.kick();
    if (outcomes.length > 0) crash('after-commit');

    const failed: NonNullable<BatchResult['failed']> = [];
    const told = new Set<string>();
    // One log line per entry, in the entry's own trace (its trace_id and span_id on the line).
    const report = (item: BatchItem<OrderPlaced>, row: OrderRow) => {
      const { orderId } = item.message.payload;
      const log = logOf(item);
      const outcome = charged.get(orderId);
      if (!outcome) {
        log.info({ status: row.status }, 'payment already recorded; nothing to do');
      } else if (outcome.status === 'rejected') {
        failed.push({ id: item.meta.id, error: outcome.reason });
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
      const { orderId } = item.message.payload;
      const row = orders.get(orderId);
      if (!row) {
        failed.push({ id: item.meta.id, error: new PoisonMessage(`order ${orderId} does not exist`) });
        continue;
      }
      withEntryContext(item.meta.id, () => report(item, row));
    }
    return { failed };
  };
}
