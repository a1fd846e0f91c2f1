import type { Database } from 'bun:sqlite';
import type { StripeEvent } from '../ledger/stripe-event.ts';
import { selectPage, type Filter, type Page, type PageRequest } from './select-page.ts';

/** The events, as created; `pending_webhooks` is filled in from the deliveries when read. */
export function createEventsTable(db: Database) {
  const insert = db.query('INSERT INTO events (id, type, created, body) VALUES ($id, $type, $created, $body)');
  const select = db.query<{ body: string }, { id: string }>('SELECT body FROM events WHERE id = $id');
  const selectSeq = db.query<{ seq: number }, { id: string }>('SELECT seq FROM events WHERE id = $id');
  const count = db.query<{ n: number }, []>('SELECT count(*) AS n FROM events');
  return {
    insert(event: StripeEvent): void {
      insert.run({ id: event.id, type: event.type, created: event.created, body: JSON.stringify(event) });
    },
    get(id: string): StripeEvent | undefined {
      const row = select.get({ id });
      return row ? (JSON.parse(row.body) as StripeEvent) : undefined;
    },
    seqOf(id: string): number | undefined {
      return selectSeq.get({ id })?.seq;
    },
    page(filters: Filter[], page: PageRequest): Page {
      return selectPage(db, 'events', filters, page);
    },
    count(): number {
      return count.get()?.n ?? 0;
    },
  };
}

export type EventsTable = ReturnType<typeof createEventsTable>;
