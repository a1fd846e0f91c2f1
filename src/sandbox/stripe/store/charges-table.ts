import type { Database } from 'bun:sqlite';

/** Every charge attempt, so the stats can say how many times an intent (or an order) was charged. */
export function createChargesTable(db: Database) {
  const insert = db.query(
    'INSERT INTO charges (id, payment_intent, status, amount, order_id, created_ms) VALUES ($id, $payment_intent, $status, $amount, $order_id, $created_ms)',
  );
  const countStatuses = db.query<{ status: string; n: number }, []>('SELECT status, count(*) AS n FROM charges GROUP BY status');
  const perOrder = db.query<{ order_id: string; n: number }, []>(
    "SELECT order_id, count(*) AS n FROM charges WHERE status = 'succeeded' AND order_id IS NOT NULL GROUP BY order_id",
  );
  const succeededForIntent = db.query<{ n: number }, { payment_intent: string }>(
    "SELECT count(*) AS n FROM charges WHERE payment_intent = $payment_intent AND status = 'succeeded'",
  );
  return {
    insert(charge: { id: string; paymentIntent: string; status: 'succeeded' | 'failed'; amount: number; orderId: string | null; createdMs: number }): void {
      insert.run({ id: charge.id, payment_intent: charge.paymentIntent, status: charge.status, amount: charge.amount, order_id: charge.orderId, created_ms: charge.createdMs });
    },
    countByStatus(): Record<string, number> {
      return Object.fromEntries(countStatuses.all().map((row) => [row.status, row.n]));
    },
    /** Succeeded charges by `metadata.order_id` of their intent. */
    succeededPerOrder(): Record<string, number> {
      return Object.fromEntries(perOrder.all().map((row) => [row.order_id, row.n]));
    },
    succeededForIntent(paymentIntent: string): number {
      return succeededForIntent.get({ payment_intent: paymentIntent })?.n ?? 0;
    },
  };
}

export type ChargesTable = ReturnType<typeof createChargesTable>;
