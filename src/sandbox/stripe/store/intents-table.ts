import type { Database } from 'bun:sqlite';
import type { PaymentIntent } from '../payment-intent.ts';
import { selectPage, type Filter, type Page, type PageRequest } from './select-page.ts';

/** The payment_intents table (and its metadata index): the intents as Stripe would answer them. */
export function createIntentsTable(db: Database) {
  const insertIntent = db.query(
    `INSERT INTO payment_intents (id, status, amount, currency, customer, created, created_ms, body)
     VALUES ($id, $status, $amount, $currency, $customer, $created, $created_ms, $body)`,
  );
  const insertMetadata = db.query('INSERT INTO payment_intent_metadata (intent_id, key, value) VALUES ($intent_id, $key, $value)');
  const updateIntent = db.query('UPDATE payment_intents SET status = $status, settle_at_ms = $settle_at_ms, body = $body WHERE id = $id');
  const selectBody = db.query<{ body: string }, { id: string }>('SELECT body FROM payment_intents WHERE id = $id');
  const selectSeq = db.query<{ seq: number }, { id: string }>('SELECT seq FROM payment_intents WHERE id = $id');
  const selectDue = db.query<{ id: string }, { now: number }>('SELECT id FROM payment_intents WHERE settle_at_ms IS NOT NULL AND settle_at_ms <= $now ORDER BY settle_at_ms LIMIT 100');
  const countStatuses = db.query<{ status: string; n: number }, []>('SELECT status, count(*) AS n FROM payment_intents GROUP BY status');

  return {
    insert(intent: PaymentIntent, createdMs: number): void {
      insertIntent.run({
        id: intent.id,
        status: intent.status,
        amount: intent.amount,
        currency: intent.currency,
        customer: intent.customer,
        created: intent.created,
        created_ms: createdMs,
        body: JSON.stringify(intent),
      });
      for (const [key, value] of Object.entries(intent.metadata)) insertMetadata.run({ intent_id: intent.id, key, value });
    },

    /** Saves the intent's new state; `settleAtMs` is when a processing intent's outcome is due (else null). */
    update(intent: PaymentIntent, settleAtMs: number | null = null): void {
      updateIntent.run({ id: intent.id, status: intent.status, settle_at_ms: settleAtMs, body: JSON.stringify(intent) });
    },

    get(id: string): PaymentIntent | undefined {
      const row = selectBody.get({ id });
      return row ? (JSON.parse(row.body) as PaymentIntent) : undefined;
    },

    seqOf(id: string): number | undefined {
      return selectSeq.get({ id })?.seq;
    },

    page(filters: Filter[], page: PageRequest): Page {
      return selectPage(db, 'payment_intents', filters, page);
    },

    /** Processing intents whose outcome is due. */
    dueToSettle(nowMs: number): string[] {
      return selectDue.all({ now: nowMs }).map((row) => row.id);
    },

    countByStatus(): Record<string, number> {
      return Object.fromEntries(countStatuses.all().map((row) => [row.status, row.n]));
    },
  };
}

export type IntentsTable = ReturnType<typeof createIntentsTable>;
