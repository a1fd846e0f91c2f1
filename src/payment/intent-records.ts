import type { Sql } from 'postgres';
import { errorCode, UNIQUE_VIOLATION } from '../shared/db/connection-error.ts';

/** PostgreSQL's record of each order's provider intent (payment_intents), each write its own commit. */
export interface IntentRecords {
  /**
   * Records `intentId` as the order's intent unless one is recorded already; returns the recorded one.
   * The first intent recorded is the only one ever confirmed: a different id coming back means another
   * attempt got there first, and the caller cancels its own.
   */
  record(orderId: string, intentId: string, status: string): Promise<string>;
  /** After the provider answered a create with a 5xx: the next create of this order uses the next key. */
  nextCreateSeq(orderId: string, afterSeq: number): Promise<void>;
}

export function createIntentRecords(sql: Sql): IntentRecords {
  return {
    async record(orderId, intentId, status) {
      // Two attempts of one order get the same intent back (one key) and may record it at the same moment.
      // ON CONFLICT (order_id) arbitrates only the order's index: the later insert meets the earlier one on
      // the intent id's unique index instead and fails there (23505) once it commits. Asked again, the
      // statement finds the committed row and takes the conflict path. Bounded: an intent id recorded for
      // another order (never, since the key and metadata carry the order) fails the same way every time.
      for (let tries = 1; ; tries++) {
        try {
          const [row] = await sql<{ intent_id: string }[]>`
            insert into payment_intents (order_id, intent_id, status) values (${orderId}, ${intentId}, ${status})
            on conflict (order_id) do update set
              intent_id = coalesce(payment_intents.intent_id, excluded.intent_id),
              status = case when payment_intents.intent_id is null or payment_intents.intent_id = excluded.intent_id then excluded.status else payment_intents.status end,
              updated_at = now()
            returning intent_id`;
          return row!.intent_id;
        } catch (error) {
          if (tries < 3 && errorCode(error) === UNIQUE_VIOLATION) continue;
          throw error;
        }
      }
    },
    async nextCreateSeq(orderId, afterSeq) {
      await sql`
        insert into payment_intents (order_id, create_seq) values (${orderId}, ${afterSeq + 1})
        on conflict (order_id) do update set create_seq = greatest(payment_intents.create_seq, excluded.create_seq), updated_at = now()`;
    },
  };
}
