import type { Database } from 'bun:sqlite';
import { createChargesTable } from './charges-table.ts';
import { createDeliveriesTable } from './deliveries-table.ts';
import { createEventsTable } from './events-table.ts';
import { createIdempotencyTable } from './idempotency-table.ts';
import { createIntentsTable } from './intents-table.ts';
import { createPaymentMethodsTable } from './payment-methods-table.ts';

/** Every table of the sandbox's SQLite ledger, and a way to change several at once. */
export function createLedgerStore(db: Database) {
  return {
    db,
    intents: createIntentsTable(db),
    paymentMethods: createPaymentMethodsTable(db),
    charges: createChargesTable(db),
    idempotency: createIdempotencyTable(db),
    events: createEventsTable(db),
    deliveries: createDeliveriesTable(db),
    /** Runs `work` in one SQLite transaction: an intent, its charge, its event and their deliveries are saved together or not at all. */
    atomically<T>(work: () => T): T {
      return db.transaction(work)();
    },
  };
}

export type LedgerStore = ReturnType<typeof createLedgerStore>;
