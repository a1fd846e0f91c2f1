import type { Sql } from 'postgres';

/** What the payment handler reads of each order of a batch: the amount comes from here, the source of truth. */
export interface OrderToCharge {
  id: string;
  totalCents: number;
  requestId: string;
  status: string;
  /** An outcome is recorded already: nothing to charge. */
  hasOutcome: boolean;
}

/** The batch's orders in one statement, by primary key; an id with no order is absent from the map. */
export async function readOrdersToCharge(sql: Sql, ids: readonly string[]): Promise<Map<string, OrderToCharge>> {
  const rows = await sql<OrderToCharge[]>`
    select o.id, o.total_cents as "totalCents", o.request_id as "requestId", o.status::text as status, (p.order_id is not null) as "hasOutcome"
    from orders o left join payment_attempts p on p.order_id = o.id
    where o.id = any(${ids}::uuid[])`;
  return new Map(rows.map((row) => [row.id, row]));
}
