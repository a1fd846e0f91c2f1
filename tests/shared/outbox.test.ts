import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { eq, sql } from 'drizzle-orm';
import { outbox, orders, paymentAttempts } from '../../src/shared/db/schema.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { Events } from '../../src/shared/pipeline/events.ts';
import { TOPOLOGY, streamKey } from '../../src/shared/pipeline/topology.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { publishPending, purgePublished } from '../../src/shared/pipeline/outbox.ts';
import { reconcile } from '../../src/shared/pipeline/reconciler.ts';
import { createRedis } from '../../src/shared/runtime/redis.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';
import { createTestApp, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { connectRedis, deleteKeys, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

let tdb: TestDatabase;
const prefix = uniquePrefix('outbox');
const admin = connectRedis();
const log = createLogger({ service: 'test', level: 'silent' });
const publisher = createRedis(TEST_REDIS_URL, { connectionName: 'outbox-test', log });

beforeAll(async () => {
  tdb = await createTestDatabase('outbox');
  await seedMenu(tdb.db);
});
afterAll(async () => {
  publisher.disconnect();
  await deleteKeys(admin, prefix);
  admin.disconnect();
  await tdb.drop();
});

async function placeOrders(n: number) {
  const { app } = createTestApp(tdb.db);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await app.handle(postJson('/orders', { items: [{ menuItemId: 1, quantity: 1 }], customerEmail: `o${i}@example.com` }));
    ids.push((await readJson(res)).id);
  }
  return ids;
}

const placedStream = () => streamKey(prefix, TOPOLOGY.OrderPlaced.stream);
const unpublishedCount = async () =>
  (await tdb.db.execute<{ n: number }>(sql`select count(*)::int as n from outbox where published_at is null`))[0]!.n;

describe('the outbox relay', () => {
  it('publishes every committed event exactly once, even with several relays at once (SKIP LOCKED)', async () => {
    const ids = await placeOrders(120);
    const published = await Promise.all(
      Array.from({ length: 4 }, () => publishPending({ db: tdb.db, redis: publisher, streamPrefix: prefix, batchSize: 7 })),
    );
    expect(published.reduce((a, b) => a + b, 0)).toBe(120);
    expect(await unpublishedCount()).toBe(0);
    const entries = (await admin.xrange(placedStream(), '-', '+')) as [string, string[]][];
    expect(entries).toHaveLength(120);
    const orderIds = entries.map(([, flat]) => Events.orderPlaced.fromFields(fieldsToRecord(flat)).payload.orderId);
    expect(new Set(orderIds)).toEqual(new Set(ids));
  });

  it('leaves rows unpublished while Redis is unreachable, and says so', async () => {
    await placeOrders(2);
    const down = createRedis('redis://127.0.0.1:1/0', { connectionName: 'nowhere', log });
    try {
      await expect(publishPending({ db: tdb.db, redis: down, streamPrefix: prefix })).rejects.toThrow();
      expect(await unpublishedCount()).toBe(2);
    } finally {
      down.disconnect();
    }
    expect(await publishPending({ db: tdb.db, redis: publisher, streamPrefix: prefix })).toBe(2);
  });

  it('purges published rows after the retention period, never unpublished ones', async () => {
    await placeOrders(1);
    await tdb.db.execute(sql`update outbox set created_at = now() - interval '2 hours', published_at = now() - interval '2 hours' where published_at is not null`);
    await tdb.db.execute(sql`update outbox set created_at = now() - interval '2 hours' where published_at is null`);
    const total = (await tdb.db.execute<{ n: number }>(sql`select count(*)::int as n from outbox`))[0]!.n;
    expect(await purgePublished(tdb.db, 3_600_000)).toBe(total - 1);
    expect(await unpublishedCount()).toBe(1);
    await publishPending({ db: tdb.db, redis: publisher, streamPrefix: prefix });
  });
});

describe('the reconciler', () => {
  it('leaves alone an order whose payment waits in Redis for its next scheduled attempt, and re-emits it once that wait is over', async () => {
    const [id] = await placeOrders(1);
    await publishPending({ db: tdb.db, redis: publisher, streamPrefix: prefix });
    await tdb.db.execute(sql`update orders set updated_at = now() - interval '5 minutes', payment_retry_until = now() + interval '10 minutes' where id = ${id}`);
    await tdb.db.execute(sql`update outbox set created_at = now() - interval '5 minutes' where order_id = ${id}`);
    // Silent for 5 minutes, but waiting for its retry: not lost, so no copy (a copy would start its schedule over).
    expect((await reconcile(tdb.db, { olderThanMs: 60_000 })).orderPlaced).toBe(0);
    // The wait is over and nothing happened (Redis lost the entry, say): now it is re-emitted.
    await tdb.db.execute(sql`update orders set payment_retry_until = now() - interval '1 second' where id = ${id}`);
    expect((await reconcile(tdb.db, { olderThanMs: 60_000 })).orderPlaced).toBe(1);
  });

  it('re-emits orders.placed for an order stuck in processing, once per RECONCILE_AFTER_MS', async () => {
    const [id] = await placeOrders(1);
    await publishPending({ db: tdb.db, redis: publisher, streamPrefix: prefix });
    // Fresh: not stalled yet.
    expect(await reconcile(tdb.db, { olderThanMs: 60_000 })).toEqual({ orderPlaced: 0, paymentCompleted: 0 });

    await tdb.db.execute(sql`update orders set created_at = now() - interval '5 minutes', updated_at = now() - interval '5 minutes' where id = ${id}`);
    await tdb.db.execute(sql`update outbox set created_at = now() - interval '5 minutes' where order_id = ${id}`);
    const first = await reconcile(tdb.db, { olderThanMs: 60_000 });
    expect(first.orderPlaced).toBe(1);
    // Just re-emitted: the next pass leaves it alone.
    expect((await reconcile(tdb.db, { olderThanMs: 60_000 })).orderPlaced).toBe(0);

    const rows = await tdb.db.select().from(outbox).where(eq(outbox.orderId, id!));
    expect(rows.map((row) => row.eventType)).toEqual(['OrderPlaced', 'OrderPlaced']);
    expect(rows[1]!.event).toMatchObject({ payload: { orderId: id }, requestId: rows[0]!.event.requestId });
  });

  it('re-emits payment.completed for a paid order nobody was told about', async () => {
    const [id] = await placeOrders(1);
    await tdb.db.insert(paymentAttempts).values({ orderId: id!, outcome: 'succeeded', attempts: 1, chargeId: 'ch_x' });
    await tdb.db.execute(sql`update orders set status = 'paid', updated_at = now() - interval '5 minutes' where id = ${id}`);
    const result = await reconcile(tdb.db, { olderThanMs: 60_000 });
    expect(result.paymentCompleted).toBeGreaterThanOrEqual(1);
    const [event] = await tdb.db.select().from(outbox).where(sql`${outbox.orderId} = ${id} and ${outbox.eventType} = 'PaymentCompleted'`);
    expect(event!.event).toMatchObject({ payload: { outcome: 'succeeded', chargeId: 'ch_x', orderId: id } });

    // Once notified, it is done for good.
    await tdb.db.update(orders).set({ notifiedAt: new Date() }).where(eq(orders.id, id!));
    await tdb.db.execute(sql`update outbox set created_at = now() - interval '10 minutes' where order_id = ${id}`);
    expect((await reconcile(tdb.db, { olderThanMs: 60_000 })).paymentCompleted).toBe(0);
  });
});
