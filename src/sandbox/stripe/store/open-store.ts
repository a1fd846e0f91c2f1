import { Database } from 'bun:sqlite';

/**
 * The sandbox's ledger: its own SQLite file, never our PostgreSQL, so that it stays the other side
 * of the protocol. Objects are kept as the JSON Stripe answers with (`body`), beside the columns
 * that lists, searches and the ticker select on.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS payment_intents (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  amount INTEGER NOT NULL,
  currency TEXT NOT NULL,
  customer TEXT,
  created INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  -- set while processing: when the outcome is due
  settle_at_ms INTEGER,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payment_intents_settle ON payment_intents (settle_at_ms) WHERE settle_at_ms IS NOT NULL;

CREATE TABLE IF NOT EXISTS payment_intent_metadata (
  intent_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (intent_id, key)
);
CREATE INDEX IF NOT EXISTS payment_intent_metadata_lookup ON payment_intent_metadata (key, value);

CREATE TABLE IF NOT EXISTS payment_methods (
  id TEXT PRIMARY KEY,
  token TEXT NOT NULL,
  created INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS charges (
  id TEXT PRIMARY KEY,
  payment_intent TEXT NOT NULL,
  status TEXT NOT NULL,
  amount INTEGER NOT NULL,
  order_id TEXT,
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS charges_by_intent ON charges (payment_intent);

CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT PRIMARY KEY,
  endpoint TEXT NOT NULL,
  params_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  body TEXT NOT NULL,
  request_id TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_keys_age ON idempotency_keys (created_ms);

CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  created INTEGER NOT NULL,
  body TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  url TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at_ms INTEGER NOT NULL,
  last_status INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_at_ms) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_event ON webhook_deliveries (event_id);
`;

const TABLES = ['payment_intents', 'payment_intent_metadata', 'payment_methods', 'charges', 'idempotency_keys', 'events', 'webhook_deliveries'];

export function openStore(path: string): Database {
  const db = new Database(path, { create: true, strict: true });
  if (path !== ':memory:') {
    // WAL: a reader (GET /_sandbox/stats) never waits on the writer; NORMAL is durable enough for a test double.
    db.run('PRAGMA journal_mode = WAL');
    db.run('PRAGMA synchronous = NORMAL');
  }
  db.run('PRAGMA busy_timeout = 5000');
  db.exec(SCHEMA);
  return db;
}

/** Forgets everything (POST /_sandbox/reset). */
export function wipeStore(db: Database): void {
  db.transaction(() => {
    for (const table of TABLES) db.run(`DELETE FROM ${table}`);
  })();
}
