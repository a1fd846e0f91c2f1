import type { Database } from '../../shared/db/client.ts';
import { Events } from '../../shared/pipeline/events.ts';
import { orderPlacedEvent } from '../../shared/pipeline/order-events.ts';
import type { OutboxWriter } from '../../shared/pipeline/outbox-writer.ts';
import { IdempotencyKeyInProgress, MenuItemNotFound, MenuItemUnavailable, PaymentMethodRequired, ValidationFailed } from '../errors/domain.ts';
import { MAX_QUANTITY, type OrderLine, type OrderView, type PlaceOrderBody } from '../models/order.ts';
import { errorCode, UNIQUE_VIOLATION } from '../../shared/db/connection-error.ts';
import { withDbRetry, type DbRetryOptions } from './db-retry.ts';
import type { OrderReads } from './get-order.ts';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  fingerprintOf,
  releaseIdempotencyKey,
  type IdempotentResponse,
  type KeyClaim,
  type KeyTiming,
} from './idempotency.ts';
import { toOrderView } from './order-view.ts';
import { writeOrder } from './write-order.ts';

/** The same menu item twice becomes one line with the summed quantity; lines come out sorted by menu item id. */
export function mergeLines(items: readonly OrderLine[]): OrderLine[] {
  const quantities = new Map<number, number>();
  for (const { menuItemId, quantity } of items) {
    quantities.set(menuItemId, (quantities.get(menuItemId) ?? 0) + quantity);
  }
  const merged = [...quantities].map(([menuItemId, quantity]) => ({ menuItemId, quantity }));
  const tooMany = merged.filter((line) => line.quantity > MAX_QUANTITY);
  if (tooMany.length > 0) {
    throw new ValidationFailed(
      `Merged quantity above ${MAX_QUANTITY} for menu item ${tooMany.map((line) => line.menuItemId).join(', ')}`,
      tooMany.map((line) => ({ field: '/items', message: `menuItemId ${line.menuItemId}: total quantity ${line.quantity} > ${MAX_QUANTITY}` })),
    );
  }
  return merged.toSorted((a, b) => a.menuItemId - b.menuItemId);
}

export interface PlaceOrderOptions {
  requestId: string;
  idempotency?: { key: string; ttlHours: number; waitMs: number };
  /** The write window and abandonment of a key's claim, both from the statement bound (see idempotency.ts). */
  timing: KeyTiming;
  /** How long to ride through transient database failures before answering 503. */
  retry: DbRetryOptions;
  /** Stages the `orders.placed` event written with the order. */
  outbox: OutboxWriter;
  /** Where a retry or a replay reads the order it wrote (or another request did). */
  reads: OrderReads;
  /** A live provider: an order without a paymentMethodId is refused (422) before anything is written. */
  paymentMethodRequired?: boolean;
}

/**
 * Places an order: one statement without an Idempotency-Key; with one, three (claim the key, write
 * the order linked to it, store the response). See write-order.ts and idempotency.ts.
 *
 * A transient database failure (a session killed, a connection reset) is retried within the
 * request. The order id is chosen once, before the first try: when a connection is lost while the
 * write is on the wire, nobody can say whether it committed, so every retry first looks for the
 * order on a fresh connection, and answers with it if it is there; a retried write that meets its
 * own id (23505) or its own link on the key learns the same. From the moment a write has been sent,
 * the request's budget grows to the write window: a 503 must not be told for an order that exists,
 * and only an outage longer than that window leaves the request unable to find out.
 */
export async function placeOrder(
  db: Database,
  input: PlaceOrderBody,
  { requestId, idempotency, timing, retry, outbox, reads, paymentMethodRequired = false }: PlaceOrderOptions,
): Promise<IdempotentResponse<OrderView>> {
  if (paymentMethodRequired && !input.paymentMethodId) throw new PaymentMethodRequired();
  const pg = db.$client;
  const lines = mergeLines(input.items);
  const orderId = Bun.randomUUIDv7();
  // One event for every try: a retry that writes the order writes this same event.
  const placed = orderPlacedEvent({ id: orderId, requestId });
  const key = idempotency?.key;
  const claimOptions = idempotency && { ...idempotency, ...timing, fingerprint: fingerprintOf({ customerEmail: input.customerEmail, lines, ...(input.paymentMethodId ? { paymentMethodId: input.paymentMethodId } : {}) }), holder: orderId };
  let writeSent = false;

  const created = async (order: OrderView): Promise<IdempotentResponse<OrderView>> => {
    // Another request may have stored this order's answer first (it found the order orphaned): answer what it stored.
    const stored = key ? await completeIdempotencyKey(pg, key, order.id, 201, order) : { status: 201, body: order };
    return { status: stored.status, body: stored.body, replayed: false };
  };
  const committed = async (): Promise<IdempotentResponse<OrderView> | undefined> => {
    const order = await reads.findOrder(orderId);
    return order && created(order);
  };
  /** What the key says when this request may not write under it: a stored or recoverable answer, or 409. */
  const answerFromKey = async (claim: KeyClaim<OrderView>): Promise<IdempotentResponse<OrderView> | undefined> => {
    if (claim.kind === 'replay') return { status: claim.status, body: claim.body, replayed: true };
    if (claim.kind === 'orphaned') {
      // Its request wrote the order and has not stored the answer: store it now, from the order.
      const order = (await reads.findOrder(claim.orderId))!;
      const stored = await completeIdempotencyKey(pg, key!, order.id, 201, order);
      return { status: stored.status, body: stored.body, replayed: true };
    }
    if (claim.linked) return committed();
    return undefined;
  };

  return withDbRetry(async (attempt, extendBudget) => {
    if (attempt > 1 && writeSent) {
      const found = await committed();
      if (found) return found;
    }
    if (claimOptions) {
      const answer = await answerFromKey(await claimIdempotencyKey<OrderView>(pg, claimOptions));
      if (answer) return answer;
    }
    writeSent = true;
    extendBudget(timing.writeWindowMs);
    const claim = claimOptions && { key: claimOptions.key, holder: orderId, writeWindowMs: timing.writeWindowMs };
    const announcement = outbox.stage(Events.orderPlaced, placed);
    const result = await outbox
      .written([announcement], { summary: 'INSERT orders order_items outbox', operation: 'WITH' }, writeOrder(pg, { orderId, lines, customerEmail: input.customerEmail, paymentMethodId: input.paymentMethodId ?? null, requestId, announcement, claim }))
      .catch(async (error: unknown) => {
        // Our own id already taken: an earlier try of this request committed after all.
        if (errorCode(error) === UNIQUE_VIOLATION) {
          const found = await reads.findOrder(orderId);
          if (found) return { written: 'before' as const, order: found };
        }
        throw error;
      });
    if (result.written === 'before') return created(result.order);
    if (result.written) return created(toOrderView(result.order, result.items, null));
    if (result.fenced) {
      const found = await committed();
      if (found) return found;
      // The key is not ours to write under any more (taken over after our claim was abandoned, or our
      // write window passed): answer as any other request with this key would be answered.
      const stranger = Bun.randomUUIDv7();
      const answer = await answerFromKey(await claimIdempotencyKey<OrderView>(pg, { ...claimOptions!, holder: stranger }));
      if (answer) return answer;
      // That look took the key over (it had been abandoned meanwhile): give it back for the client's retry.
      await releaseIdempotencyKey(pg, key!, stranger);
      throw new IdempotencyKeyInProgress();
    }
    if (key) await releaseIdempotencyKey(pg, key, orderId);
    if (result.unknown.length > 0) throw new MenuItemNotFound(result.unknown);
    throw new MenuItemUnavailable(result.unavailable);
  }, retry);
}
