import type { Database } from 'bun:sqlite';

export interface DueDelivery {
  id: number;
  eventId: string;
  url: string;
  /** Attempts made before this one. */
  attempts: number;
}

/** One row per (event, endpoint): where its delivery stands, so a restarted sandbox carries on. */
export function createDeliveriesTable(db: Database) {
  const insert = db.query("INSERT INTO webhook_deliveries (event_id, url, state, next_at_ms) VALUES ($event_id, $url, 'pending', $next_at_ms)");
  const selectDue = db.query<{ id: number; event_id: string; url: string; attempts: number }, { now: number; limit: number }>(
    "SELECT id, event_id, url, attempts FROM webhook_deliveries WHERE state = 'pending' AND next_at_ms <= $now ORDER BY next_at_ms LIMIT $limit",
  );
  const record = db.query(
    'UPDATE webhook_deliveries SET state = $state, attempts = $attempts, next_at_ms = $next_at_ms, last_status = $last_status, last_error = $last_error WHERE id = $id',
  );
  const undelivered = db.query<{ n: number }, { event_id: string }>("SELECT count(*) AS n FROM webhook_deliveries WHERE event_id = $event_id AND state != 'delivered'");
  const countStates = db.query<{ state: string; n: number; attempts: number }, []>('SELECT state, count(*) AS n, sum(attempts) AS attempts FROM webhook_deliveries GROUP BY state');

  return {
    add(eventId: string, url: string, nextAtMs: number): void {
      insert.run({ event_id: eventId, url, next_at_ms: nextAtMs });
    },
    due(nowMs: number, limit: number): DueDelivery[] {
      return selectDue.all({ now: nowMs, limit }).map((row) => ({ id: row.id, eventId: row.event_id, url: row.url, attempts: row.attempts }));
    },
    /** The outcome of an attempt: delivered, to be tried again at `nextAtMs`, or given up. */
    record(id: number, outcome: { state: 'pending' | 'delivered' | 'failed'; attempts: number; nextAtMs: number; status: number | null; error: string | null }): void {
      record.run({ id, state: outcome.state, attempts: outcome.attempts, next_at_ms: outcome.nextAtMs, last_status: outcome.status, last_error: outcome.error });
    },
    undeliveredFor(eventId: string): number {
      return undelivered.get({ event_id: eventId })?.n ?? 0;
    },
    counts(): { pending: number; delivered: number; failed: number; attempts: number } {
      const counts = { pending: 0, delivered: 0, failed: 0, attempts: 0 };
      for (const row of countStates.all()) {
        counts[row.state as 'pending' | 'delivered' | 'failed'] = row.n;
        counts.attempts += row.attempts ?? 0;
      }
      return counts;
    },
  };
}

export type DeliveriesTable = ReturnType<typeof createDeliveriesTable>;
