import type { Database } from '../shared/db/client.ts';
import type { GatewayCharge } from '../shared/db/schema.ts';

/** A charge the mock gateway has decided on (new id, succeeded or declined), not yet in its ledger. */
export type NewCharge = Pick<GatewayCharge, 'id' | 'idempotencyKey' | 'amountCents' | 'status' | 'declineReason'>;

interface Waiting {
  charge: NewCharge;
  resolve: (row: GatewayCharge) => void;
  reject: (error: unknown) => void;
}

/**
 * The mock gateway's ledger, `gateway_charges`. The charges asked for together (a batch's concurrent
 * gateway calls, started in one loop) are written by one statement, so a batch costs the database one
 * transaction instead of one per order. Each call still gets its own answer, as if alone: the row for
 * its idempotency key, the one it inserted or, when the key was charged before, the first one. The
 * calls only share the statement's fate: if it fails, each of them fails and is retried on its own.
 */
export function createGatewayLedger(db: Database) {
  let waiting: Waiting[] = [];
  let scheduled = false;

  async function flush(): Promise<void> {
    const calls = waiting;
    waiting = [];
    scheduled = false;
    try {
      const byKey = await recordCharges(db, calls.map((call) => call.charge));
      for (const call of calls) call.resolve(byKey.get(call.charge.idempotencyKey)!);
    } catch (error) {
      for (const call of calls) call.reject(error);
    }
  }

  return {
    /** The charge for `charge.idempotencyKey`: this one, recorded now, or the one recorded first for that key. */
    record(charge: NewCharge): Promise<GatewayCharge> {
      return new Promise((resolve, reject) => {
        waiting.push({ charge, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          // After the code that made this call runs to its end: the batch handler starts all its
          // calls in one loop, so they all land here before the flush.
          queueMicrotask(() => void flush());
        }
      });
    },
  };
}

/** Inserts the charges whose key is new, then reads the first charge of every other key; each key's row. */
async function recordCharges(db: Database, charges: NewCharge[]): Promise<Map<string, GatewayCharge>> {
  // The first call of a key in this flush stands for it; in key order, so two ledgers inserting the
  // same keys at once take their index locks in the same order and never deadlock.
  const byKey = new Map<string, NewCharge>();
  for (const charge of charges) if (!byKey.has(charge.idempotencyKey)) byKey.set(charge.idempotencyKey, charge);
  const rows = [...byKey.values()].sort((a, b) => (a.idempotencyKey < b.idempotencyKey ? -1 : a.idempotencyKey > b.idempotencyKey ? 1 : 0));
  const sql = db.$client;
  const inserted = await sql<GatewayCharge[]>`
    insert into gateway_charges (id, idempotency_key, amount_cents, status, decline_reason)
    select id, idempotency_key, amount_cents, status::charge_status, decline_reason
    from unnest(
      ${rows.map((row) => row.id)}::text[], ${rows.map((row) => row.idempotencyKey)}::text[], ${rows.map((row) => row.amountCents)}::int[],
      ${rows.map((row) => row.status)}::text[], ${rows.map((row) => row.declineReason)}::text[]
    ) with ordinality as c(id, idempotency_key, amount_cents, status, decline_reason, n)
    order by n
    on conflict (idempotency_key) do nothing
    returning id, idempotency_key as "idempotencyKey", amount_cents as "amountCents", status, decline_reason as "declineReason", created_at as "createdAt"`;
  const recorded = new Map(inserted.map((row) => [row.idempotencyKey, row]));
  const seenBefore = rows.filter((row) => !recorded.has(row.idempotencyKey)).map((row) => row.idempotencyKey);
  if (seenBefore.length > 0) {
    // A statement of its own: it sees a racing call's charge that committed after the insert began.
    const first = await sql<GatewayCharge[]>`
      select id, idempotency_key as "idempotencyKey", amount_cents as "amountCents", status, decline_reason as "declineReason", created_at as "createdAt"
      from gateway_charges where idempotency_key = any(${seenBefore}::text[])`;
    for (const row of first) recorded.set(row.idempotencyKey, row);
  }
  return recorded;
}
