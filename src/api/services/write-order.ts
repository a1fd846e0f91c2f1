import type { Sql } from 'postgres';
import type { Order, OrderItem } from '../../shared/db/schema.ts';
import type { OrderPlaced } from '../../shared/pipeline/events.ts';
import { outboxColumns, type StagedEvent } from '../../shared/pipeline/outbox-writer.ts';
import type { OrderLine } from '../models/order.ts';

export interface OrderToWrite {
  orderId: string;
  lines: OrderLine[];
  customerEmail: string;
  /** The card to charge, as the client named it; null: the provider's test card. */
  paymentMethodId: string | null;
  requestId: string;
  /** Its `orders.placed` event, staged by the outbox writer: written in the same statement. */
  announcement: StagedEvent<OrderPlaced>;
  /** The Idempotency-Key this request claimed: the order is written only while the claim is still this request's. */
  claim?: WriteClaim;
}

export interface WriteClaim {
  key: string;
  /** The fencing token the claim stored (see idempotency.ts). */
  holder: string;
  /** The write must start within this long of the claim, on PostgreSQL's clock. */
  writeWindowMs: number;
}

interface PricedRow {
  menu_item_id: number;
  name: string | null;
  quantity: number;
  price_cents: number | null;
  available: boolean | null;
  total_cents: number | null;
  created_at: Date | null;
  updated_at: Date | null;
  fenced: boolean;
}

export type WriteResult =
  | { written: true; order: Order; items: OrderItem[] }
  | { written: false; fenced: false; unknown: number[]; unavailable: { id: number; name: string }[] }
  /** The key is no longer this request's to write under (taken over, already linked, or the write window passed): nothing was written. */
  | { written: false; fenced: true };

/**
 * Writes an order in ONE statement, one round trip (prepared by postgres.js on each connection):
 * every line priced by joining the menu as it is now, the order, its items, its `orders.placed`
 * outbox row, and (with a key) the key's link to the order. Nothing is written when a menu item
 * is unknown or unavailable; the rows that say which come back instead. The statement is atomic,
 * so no transaction (no BEGIN, no COMMIT) is needed.
 *
 * With a key, the link comes first and everything else depends on it: the UPDATE of the key row
 * succeeds only while the row holds this request's token, has no order yet, and was claimed within the
 * write window. It takes the row's lock, so a takeover waits for this statement, and a write that waits
 * for a takeover re-checks the row after it (PostgreSQL re-evaluates an UPDATE's WHERE on the newest row
 * version) and writes nothing.
 */
export async function writeOrder(sql: Sql, order: OrderToWrite): Promise<WriteResult> {
  const { claim } = order;
  const outbox = outboxColumns([order.announcement]);
  const rows = await sql<PricedRow[]>`
    with lines as (
      select * from unnest(${order.lines.map((l) => l.menuItemId)}::int[], ${order.lines.map((l) => l.quantity)}::int[]) as l(menu_item_id, quantity)
    ),
    priced as (
      select l.menu_item_id, l.quantity, m.name, m.price_cents, m.available
      from lines l left join menu_items m on m.id = l.menu_item_id
    ),
    fenced as (
      update idempotency_keys k set order_id = ${order.orderId}
      where k.key = ${claim?.key ?? null}::text and k.locked_by = ${claim?.holder ?? null}::uuid and k.order_id is null
        and k.locked_at > now() - make_interval(secs => ${(claim?.writeWindowMs ?? 0) / 1000})
        and (select bool_and(coalesce(available, false)) from priced)
      returning 1
    ),
    placed as (
      insert into orders (id, customer_email, total_cents, request_id, payment_method_id)
      select ${order.orderId}, ${order.customerEmail}, sum(price_cents * quantity)::int, ${order.requestId}, ${order.paymentMethodId}::text from priced
      having bool_and(coalesce(available, false)) and (${claim === undefined} or exists (select from fenced))
      returning id, total_cents, created_at, updated_at
    ),
    items as (
      insert into order_items (order_id, menu_item_id, name, quantity, unit_price_cents)
      select p.id, l.menu_item_id, l.name, l.quantity, l.price_cents from priced l cross join placed p
    ),
    announced as (
      insert into outbox (event_id, event_type, stream, order_id, event)
      select ${outbox.eventIds[0]!}, ${outbox.eventTypes[0]!}, ${outbox.streams[0]!}, p.id, ${outbox.events[0]!}::jsonb from placed p
    )
    select l.menu_item_id, l.name, l.quantity, l.price_cents, l.available, p.total_cents, p.created_at, p.updated_at,
           ${claim !== undefined} and not exists (select from fenced) as fenced
    from priced l left join placed p on true
    order by l.menu_item_id`;

  const placed = rows[0]?.created_at ? rows[0] : undefined;
  if (!placed) {
    const allAvailable = rows.every((row) => row.available);
    if (allAvailable && rows[0]?.fenced) return { written: false, fenced: true };
    return {
      written: false,
      fenced: false,
      unknown: rows.filter((row) => row.name === null).map((row) => row.menu_item_id),
      unavailable: rows.filter((row) => row.name !== null && !row.available).map((row) => ({ id: row.menu_item_id, name: row.name! })),
    };
  }
  return {
    written: true,
    order: {
      id: order.orderId,
      customerEmail: order.customerEmail,
      status: 'processing',
      totalCents: placed.total_cents!,
      requestId: order.requestId,
      createdAt: new Date(placed.created_at!),
      updatedAt: new Date(placed.updated_at!),
      notifiedAt: null,
      paymentRetryUntil: null,
      paymentMethodId: order.paymentMethodId,
    },
    items: rows.map((row) => ({ orderId: order.orderId, menuItemId: row.menu_item_id, name: row.name!, quantity: row.quantity, unitPriceCents: row.price_cents! })),
  };
}
