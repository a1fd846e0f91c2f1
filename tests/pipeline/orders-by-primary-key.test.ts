import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { createDeliveryHandler } from '../../src/notify/delivery-handler.ts';
import { createEmailChannel } from '../../src/notify/email/email-channel.ts';
import { createSmtpMailer } from '../../src/notify/email/smtp-mailer.ts';
import { createNotifyMetrics } from '../../src/notify/metrics.ts';
import { CircuitBreaker } from '../../src/payment/breaker.ts';
import { createMockGateway } from '../../src/payment/mock-gateway.ts';
import { createPaymentHandler } from '../../src/payment/handler.ts';
import { createDb, type DbHandle } from '../../src/shared/db/client.ts';
import type { OrderPlaced, PaymentCompleted } from '../../src/shared/pipeline/events.ts';
import { orderPlacedEvent, paymentCompletedEvent } from '../../src/shared/pipeline/order-events.ts';
import { createOutboxWriter } from '../../src/shared/pipeline/outbox-writer.ts';
import { loadConfig } from '../../src/shared/runtime/config.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import type { BatchItem } from '../../src/shared/streams/consumer.ts';
import { batchItem } from '../../src/shared/streams/batch-item.ts';
import { workerDbOptions } from '../../src/shared/worker/run-worker.ts';
import { createMetricsRegistry } from '../../src/shared/runtime/metrics.ts';
import { startMailSink, type MailSink } from '../../scripts/lib/mail-sink.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

let tdb: TestDatabase;
// The workers' pool, as runWorker builds it, on one session: every plan it caches is on that session.
let pool: DbHandle;
let mail: MailSink;

beforeAll(async () => {
  tdb = await createTestDatabase('orders_by_pk');
  pool = createDb(tdb.url, { ...workerDbOptions(loadConfig({}), 'payment'), max: 1 });
  mail = await startMailSink();
});
afterAll(async () => {
  await pool.close();
  await tdb.drop();
  await mail.stop();
});

const log = createLogger({ service: 'test', level: 'silent' });
const facts = (id: string) => ({ id, requestId: `req-${id}` });
let entry = 0;
const item = <Message>(message: Message): BatchItem<Message> => batchItem(message, { id: `${++entry}-0`, deliveries: 1 });

/** How `orders` was read so far, by all sessions: sequential scans, and scans of each index. */
async function ordersScans() {
  const [row] = await tdb.db.execute<{ seq: number; pkey: number; unfinished: number }>(sql`
    select t.seq_scan::int as seq,
           (select idx_scan::int from pg_stat_user_indexes where indexrelname = 'orders_pkey') as pkey,
           (select idx_scan::int from pg_stat_user_indexes where indexrelname = 'orders_unfinished_idx') as unfinished
    from pg_stat_user_tables t where t.relname = 'orders'`);
  return row!;
}

describe('the payment and notify workers on a young database', () => {
  it('read and update orders through its primary key only, from the first batch on, as the table grows', async () => {
    const pay = createPaymentHandler({
      db: pool.db,
      log,
      outbox: createOutboxWriter({ relay: { kick() {} } }),
      gateway: createMockGateway({ db: pool.db, settings: { latencyMs: 0, errorRate: 0, declineRate: 0.2 } }),
      breaker: new CircuitBreaker({ failureThreshold: 5, cooldownMs: 1000 }),
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
      timeoutMs: 5000,
      now: Date.now,
      sleep: Bun.sleep,
      random: Math.random,
    });
    const mailer = createSmtpMailer({ url: mail.url, from: 'orders@example.com', timeoutMs: 5000 });
    const channel = createEmailChannel({ mailer, from: 'orders@example.com', currency: 'usd', timeoutMs: 5000, retryScheduleMs: [1000] });
    const notify = createDeliveryHandler({ db: pool.db, log, channel, metrics: createNotifyMetrics(createMetricsRegistry('test')) });
    const before = await ordersScans();

    // A dozen batches: PostgreSQL caches a generic plan after five runs of a prepared statement,
    // here while `orders` holds a few hundred rows and has no statistics.
    for (let batch = 0; batch < 12; batch++) {
      const ids = Array.from({ length: 25 }, () => Bun.randomUUIDv7());
      await tdb.db.execute(sql`
        insert into orders (id, customer_email, total_cents, request_id)
        select id, 'ada@example.com', 1250, 'req-' || id from unnest(${sql.param(ids)}::uuid[]) as id`);
      const placed = ids.map((id) => item<OrderPlaced>(orderPlacedEvent(facts(id))));
      expect((await pay(placed)).failed).toEqual([]);

      const outcomes = await tdb.db.execute<{ order_id: string; outcome: 'succeeded' | 'failed'; attempts: number; charge_id: string | null; failure_reason: string | null }>(
        sql`select order_id, outcome, attempts, charge_id, failure_reason from payment_attempts where order_id = any(${sql.param(ids)}::uuid[])`,
      );
      expect(outcomes).toHaveLength(ids.length);
      const completed = outcomes.map((o) =>
        item<PaymentCompleted>(paymentCompletedEvent(facts(o.order_id), { outcome: o.outcome, attempts: o.attempts, chargeId: o.charge_id, failureReason: o.failure_reason })),
      );
      expect((await notify(completed)).failed).toEqual([]);
    }

    // Counters reach the statistics when a session goes idle, at most once a second unless forced.
    await pool.db.execute(sql`select pg_stat_force_next_flush()`);
    await pool.db.execute(sql`select 1`);
    const after = await ordersScans();
    expect(after.seq - before.seq).toBe(0);
    expect(after.unfinished - before.unfinished).toBe(0);
    expect(after.pkey - before.pkey).toBeGreaterThan(0);

    mailer.close();
    const [state] = await tdb.db.execute<{ unpaid: number; unnotified: number }>(sql`
      select count(*) filter (where status = 'processing')::int as unpaid, count(*) filter (where notified_at is null)::int as unnotified from orders`);
    expect(state).toEqual({ unpaid: 0, unnotified: 0 });
  });
});
