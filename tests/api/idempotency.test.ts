import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { idempotencyKeys } from '../../src/shared/db/schema.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { purgeExpiredIdempotencyKeys } from '../../src/api/services/idempotency.ts';
import { createTestApp, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

let tdb: TestDatabase;
let app: ReturnType<typeof createTestApp>['app'];

beforeAll(async () => {
  tdb = await createTestDatabase('idempotency');
  await seedMenu(tdb.db);
  app = createTestApp(tdb.db).app;
});
afterAll(() => tdb.drop());

const order = { items: [{ menuItemId: 2, quantity: 1 }], customerEmail: 'linus@example.com' };
let keySeq = 0;
const newKey = () => `checkout-${process.pid}-${++keySeq}`;

async function ordersFor(email: string) {
  const [row] = await tdb.db.execute<{ n: number }>(sql`select count(*)::int as n from orders where customer_email = ${email}`);
  return row!.n;
}

describe('Idempotency-Key on POST /orders', () => {
  it('replays the original response for the same key and body, without a second order', async () => {
    const key = newKey();
    const email = `replay-${key}@example.com`;
    const first = await app.handle(postJson('/orders', { ...order, customerEmail: email }, { 'idempotency-key': key }));
    const second = await app.handle(postJson('/orders', { ...order, customerEmail: email }, { 'idempotency-key': key }));

    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
    expect(await readJson(second)).toEqual(await readJson(first));
    expect(await ordersFor(email)).toBe(1);
  });

  it('replays the stored reply as stored, even after the response shape changed', async () => {
    const key = newKey();
    const email = `old-shape-${key}@example.com`;
    const first = await app.handle(postJson('/orders', { ...order, customerEmail: email }, { 'idempotency-key': key }));
    const placed = await readJson(first);
    // A reply stored by an older version: no notifiedAt yet, and a field that is gone since.
    await tdb.db.execute(
      sql`update ${idempotencyKeys} set response_body = (response_body - 'notifiedAt') || '{"legacyTotal": "28.75"}'::jsonb where key = ${key}`,
    );
    const { notifiedAt: _dropped, ...rest } = placed;
    const stored = { ...rest, legacyTotal: '28.75' };

    const again = await app.handle(postJson('/orders', { ...order, customerEmail: email }, { 'x-request-id': 'replay-old-shape', 'idempotency-key': key }));
    expect(again.status).toBe(201);
    expect(await readJson(again)).toEqual(stored);
    expect(again.headers.get('content-type')).toContain('application/json');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe(`/orders/${placed.id}`);
    expect(again.headers.get('x-request-id')).toBe('replay-old-shape');
    expect(await ordersFor(email)).toBe(1);
  });

  it('treats the same lines in another order as the same request', async () => {
    const key = newKey();
    const lines = [{ menuItemId: 1, quantity: 1 }, { menuItemId: 2, quantity: 2 }];
    const first = await readJson(await app.handle(postJson('/orders', { items: lines, customerEmail: 'a@example.com' }, { 'idempotency-key': key })));
    const again = await app.handle(postJson('/orders', { items: lines.toReversed(), customerEmail: 'a@example.com' }, { 'idempotency-key': key }));
    expect(again.status).toBe(201);
    expect((await readJson(again)).id).toBe(first.id);
  });

  it('answers 422 idempotency_key_reused when the key comes back with a different body', async () => {
    const key = newKey();
    const email = `reused-${key}@example.com`;
    await app.handle(postJson('/orders', { ...order, customerEmail: email }, { 'idempotency-key': key }));
    const res = await app.handle(
      postJson('/orders', { items: [{ menuItemId: 2, quantity: 5 }], customerEmail: email }, { 'idempotency-key': key }),
    );
    expect(res.status).toBe(422);
    expect((await readJson(res)).error.code).toBe('idempotency_key_reused');
    expect(await ordersFor(email)).toBe(1);
  });

  it('places exactly one order when the same request races itself', async () => {
    const key = newKey();
    const email = `race-${key}@example.com`;
    const responses = await Promise.all(
      Array.from({ length: 12 }, () => app.handle(postJson('/orders', { ...order, customerEmail: email }, { 'idempotency-key': key }))),
    );
    const bodies = await Promise.all(responses.map(readJson));
    expect(responses.map((res) => res.status)).toEqual(Array(12).fill(201));
    expect(new Set(bodies.map((body) => body.id)).size).toBe(1);
    expect(responses.filter((res) => res.headers.get('idempotent-replayed') === 'true')).toHaveLength(11);
    expect(await ordersFor(email)).toBe(1);
  });

  describe('while the first request with a key is still in flight', () => {
    // Holding a lock on `menu_items` from the test keeps the first request stuck after it claimed the key,
    // in the statement that prices and writes the order (the claim itself never touches the menu).
    async function withFirstRequestStuck(run: (first: Promise<Response>, key: string, email: string) => Promise<void>) {
      const key = newKey();
      const email = `inflight-${key}@example.com`;
      const reserved = await tdb.sql.reserve();
      await reserved`begin`;
      await reserved`lock table menu_items in access exclusive mode`;
      const first = app.handle(postJson('/orders', { ...order, customerEmail: email }, { 'idempotency-key': key }));
      try {
        await waitFor(
          async () => (await reserved`select 1 from pg_locks where relation = 'menu_items'::regclass and not granted`).length > 0,
          { what: 'the first request to block on the menu' },
        );
        await run(first, key, email);
      } finally {
        await reserved`rollback`;
        reserved.release();
      }
    }

    it('answers 409 idempotency_key_in_progress when it cannot wait any longer', async () => {
      const impatient = createTestApp(tdb.db, { env: { IDEMPOTENCY_WAIT_MS: '100' } }).app;
      let first!: Promise<Response>;
      let email = '';
      await withFirstRequestStuck(async (stuck, key, mail) => {
        first = stuck;
        email = mail;
        const second = await impatient.handle(postJson('/orders', { ...order, customerEmail: mail }, { 'idempotency-key': key }));
        expect(second.status).toBe(409);
        expect((await readJson(second)).error.code).toBe('idempotency_key_in_progress');
      });
      expect((await first).status).toBe(201);
      expect(await ordersFor(email)).toBe(1);
    });

    it('waits for it and replays its response', async () => {
      let first!: Promise<Response>;
      let second!: Promise<Response>;
      let email = '';
      await withFirstRequestStuck(async (stuck, key, mail) => {
        first = stuck;
        email = mail;
        let answered = false;
        second = app.handle(postJson('/orders', { ...order, customerEmail: mail }, { 'idempotency-key': key })).finally(() => (answered = true));
        // The key row is the lock: held, in progress, by the first request while the second waits on it.
        await waitFor(
          async () => (await tdb.sql`select 1 from idempotency_keys where key = ${key} and response_status is null and locked_at is not null`).length > 0,
          { what: 'the first request to hold the key' },
        );
        expect(answered).toBe(false);
      });
      const [a, b] = await Promise.all([first, second]);
      expect([a.status, b.status]).toEqual([201, 201]);
      expect(b.headers.get('idempotent-replayed')).toBe('true');
      expect((await readJson(b)).id).toBe((await readJson(a)).id);
      expect(await ordersFor(email)).toBe(1);
    });
  });

  it('does not use up the key when the request fails, so a corrected retry goes through', async () => {
    const key = newKey();
    const bad = await app.handle(postJson('/orders', { items: [{ menuItemId: 999, quantity: 1 }], customerEmail: 'fix@example.com' }, { 'idempotency-key': key }));
    expect(bad.status).toBe(422);
    const good = await app.handle(postJson('/orders', { ...order, customerEmail: 'fix@example.com' }, { 'idempotency-key': key }));
    expect(good.status).toBe(201);
    expect(good.headers.get('idempotent-replayed')).toBeNull();
  });

  it('answers 400 invalid_idempotency_key for a key over 255 characters or with control characters', async () => {
    for (const key of ['k'.repeat(256), 'tab\there']) {
      const res = await app.handle(postJson('/orders', order, { 'idempotency-key': key }));
      expect(res.status).toBe(400);
      expect((await readJson(res)).error.code).toBe('invalid_idempotency_key');
    }
    const longest = await app.handle(postJson('/orders', order, { 'idempotency-key': 'k'.repeat(255) }));
    expect(longest.status).toBe(201);
  });

  it('keeps keys for the retention period, then forgets them', async () => {
    const key = newKey();
    const email = `expiry-${key}@example.com`;
    const first = await readJson(await app.handle(postJson('/orders', { ...order, customerEmail: email }, { 'idempotency-key': key })));

    expect(await purgeExpiredIdempotencyKeys(tdb.db, 24)).toBe(0);
    await tdb.db.execute(sql`update ${idempotencyKeys} set created_at = now() - interval '23 hours' where key = ${key}`);
    expect(await purgeExpiredIdempotencyKeys(tdb.db, 24)).toBe(0);
    const stillReplayed = await readJson(await app.handle(postJson('/orders', { ...order, customerEmail: email }, { 'idempotency-key': key })));
    expect(stillReplayed.id).toBe(first.id);

    await tdb.db.execute(sql`update ${idempotencyKeys} set created_at = now() - interval '25 hours' where key = ${key}`);
    expect(await purgeExpiredIdempotencyKeys(tdb.db, 24)).toBe(1);
    const fresh = await readJson(await app.handle(postJson('/orders', { ...order, customerEmail: email }, { 'idempotency-key': key })));
    expect(fresh.id).not.toBe(first.id);
  });

  it('treats an expired key the purge has not removed yet as new', async () => {
    const key = newKey();
    const first = await readJson(await app.handle(postJson('/orders', order, { 'idempotency-key': key })));
    await tdb.db.execute(sql`update ${idempotencyKeys} set created_at = now() - interval '25 hours' where key = ${key}`);
    const res = await app.handle(postJson('/orders', { ...order, items: [{ menuItemId: 3, quantity: 1 }] }, { 'idempotency-key': key }));
    expect(res.status).toBe(201);
    expect((await readJson(res)).id).not.toBe(first.id);
  });
});
