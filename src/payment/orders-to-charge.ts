import type { Sql } from 'postgres';
import type { RecordedIntent } from './gateway.ts';

/** What the payment handler reads of each order of a batch: the amount comes from here, the source of truth. */
export interface OrderToCharge {
  id: string;
  totalCents: number;
  requestId: string;
  status: string;
  createdAt: Date;
  paymentMethodId: string | null;
  /** The provider intent earlier attempts recorded, if any (payment_intents). */
  intent: RecordedIntent | null;
  /** An outcome is recorded already: nothing to charge. */
  hasOutcome: boolean;
}

/** The batch's orders in one statement, by primary key; an id with no order is absent from the map. */
export async function readOrdersToCharge(sql: Sql, ids: readonly string[]): Promise<Map<string, OrderToCharge>> {
  const rows = await sql<(Omit<OrderToCharge, 'intent'> & { intentId: string | null; createSeq: number | null })[]>`
    select o.id, o.total_cents as "totalCents", o.request_id as "requestId", o.status::text as status, o.created_at as "createdAt",
      o.payment_method_id as "paymentMethodId", i.intent_id as "intentId", i.create_seq as "createSeq", (p.order_id is not null) as "hasOutcome"
    from orders o
      left join payment_attempts p on p.order_id = o.id
      left join payment_intents i on i.order_id = o.id
    where o.id = any(${ids}::uuid[])`;
  return new Map(
    // created_at comes back as a string from a client without the date parser: one shape either way.
    rows.map(({ intentId, createSeq, ...row }) => [row.id, { ...row, createdAt: new Date(row.createdAt), intent: createSeq === null ? null : { intentId, createSeq } }]),
  );
}
