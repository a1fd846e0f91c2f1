import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { Events, type OrderPlaced } from '../../src/shared/pipeline/events.ts';
import { eq, sql } from 'drizzle-orm';
import { menuItems, orderItems, orders, outbox } from '../../src/shared/db/schema.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { BASE, createTestApp, get, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let tdb: TestDatabase;
let app: ReturnType<typeof createTestApp>['app'];

beforeAll(async () => {
  tdb = await createTestDatabase('orders');
  await seedMenu(tdb.db);
  app = createTestApp(tdb.db).app;
});
afterAll(() => tdb.drop());

const email = 'grace@example.com';

async function place(body: unknown, headers: Record<string, string> = {}) {
  const res = await app.handle(postJson('/orders', body, headers));
  return { res, body: await readJson(res) };
}

async function orderCount() {
  const [row] = await tdb.db.execute<{ n: number }>(sql`select count(*)::int as n from orders`);
  return row!.n;
}

describe('POST /orders', () => {
  it('creates an order in processing with a Location header, priced by the server', async () => {
    const { res, body } = await place({
      items: [{ menuItemId: 1, quantity: 2 }, { menuItemId: 12, quantity: 3 }],
      customerEmail: email,
      // A client cannot set its own price or total: unknown fields are ignored.
      totalCents: 1,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/orders/${body.id}`);
    expect(body).toMatchObject({
      status: 'processing',
      customerEmail: email,
      totalCents: 2 * 1250 + 3 * 375,
      payment: null,
      items: [
        { menuItemId: 1, name: 'Margherita Pizza', quantity: 2, unitPriceCents: 1250, lineTotalCents: 2500 },
        { menuItemId: 12, name: 'Sparkling Lemonade', quantity: 3, unitPriceCents: 375, lineTotalCents: 1125 },
      ],
    });
    // UUIDv7: version nibble 7, and the embedded timestamp is now.
    expect(body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Math.abs(parseInt(body.id.replaceAll('-', '').slice(0, 12), 16) - Date.now())).toBeLessThan(60_000);

    const [row] = await tdb.db.select().from(orders).where(eq(orders.id, body.id));
    expect(row?.totalCents).toBe(3625);
    expect(row?.status).toBe('processing');
  });

  it('merges the same menu item given twice into one line', async () => {
    const { res, body } = await place({
      items: [{ menuItemId: 3, quantity: 1 }, { menuItemId: 10, quantity: 1 }, { menuItemId: 3, quantity: 2 }],
      customerEmail: email,
    });
    expect(res.status).toBe(201);
    expect(body.items.map((i: { menuItemId: number; quantity: number }) => [i.menuItemId, i.quantity])).toEqual([
      [3, 3],
      [10, 1],
    ]);
    expect(body.totalCents).toBe(3 * 1195 + 650);
  });

  it('keeps the price paid when the menu price changes later', async () => {
    const first = await place({ items: [{ menuItemId: 7, quantity: 1 }], customerEmail: email });
    await tdb.db.update(menuItems).set({ priceCents: 1999 }).where(eq(menuItems.id, 7));
    const second = await place({ items: [{ menuItemId: 7, quantity: 1 }], customerEmail: email });

    expect(first.body.totalCents).toBe(1525);
    expect(second.body.totalCents).toBe(1999);
    const reread = await readJson(await app.handle(get(`/orders/${first.body.id}`)));
    expect(reread.items[0].unitPriceCents).toBe(1525);
    expect(reread.totalCents).toBe(1525);
  });

  describe('rejects an invalid order with 422 and writes nothing', () => {
    const cases: [string, unknown, string, string?][] = [
      ['no items', { items: [], customerEmail: email }, 'validation_failed', '/items'],
      ['items missing', { customerEmail: email }, 'validation_failed', '/items'],
      ['quantity 0', { items: [{ menuItemId: 1, quantity: 0 }], customerEmail: email }, 'validation_failed', '/items/0/quantity'],
      ['quantity 51', { items: [{ menuItemId: 1, quantity: 51 }], customerEmail: email }, 'validation_failed', '/items/0/quantity'],
      ['fractional quantity', { items: [{ menuItemId: 1, quantity: 1.5 }], customerEmail: email }, 'validation_failed'],
      ['quantity as a string', { items: [{ menuItemId: 1, quantity: '2' }], customerEmail: email }, 'validation_failed'],
      ['merged quantity over 50', { items: [{ menuItemId: 1, quantity: 30 }, { menuItemId: 1, quantity: 21 }], customerEmail: email }, 'validation_failed'],
      ['unknown menu item', { items: [{ menuItemId: 999, quantity: 1 }], customerEmail: email }, 'menu_item_not_found'],
      ['bad email', { items: [{ menuItemId: 1, quantity: 1 }], customerEmail: 'not-an-email' }, 'validation_failed', '/customerEmail'],
      ['email missing', { items: [{ menuItemId: 1, quantity: 1 }] }, 'validation_failed', '/customerEmail'],
      ['body is an array', [{ menuItemId: 1, quantity: 1 }], 'validation_failed'],
      ['body is a number', 42, 'validation_failed'],
    ];
    for (const [name, payload, code, field] of cases) {
      it(name, async () => {
        const before = await orderCount();
        const { res, body } = await place(payload);
        expect(res.status).toBe(422);
        expect(body.error.code).toBe(code);
        expect(typeof body.error.message).toBe('string');
        if (field) expect(body.error.details.map((d: { field: string }) => d.field)).toContain(field);
        expect(await orderCount()).toBe(before);
      });
    }
  });

  it('answers 400 malformed_json for a body that is not JSON', async () => {
    for (const raw of ['{"items": [', 'null x', '']) {
      const { res, body } = await place(raw);
      expect(res.status).toBe(400);
      expect(body.error.code).toBe('malformed_json');
    }
  });

  it('answers 415 for a body that is not declared JSON, or not declared at all', async () => {
    const payload = JSON.stringify({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: email });
    const contentTypes: Record<string, string>[] = [{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, {}];
    for (const headers of contentTypes) {
      const res = await app.handle(new Request(`${BASE}/orders`, { method: 'POST', headers, body: payload }));
      expect(res.status).toBe(415);
      expect((await readJson(res)).error.code).toBe('unsupported_media_type');
    }
  });

  it('accepts application/json with a charset', async () => {
    const res = await app.handle(
      new Request(`${BASE}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: email }),
      }),
    );
    expect(res.status).toBe(201);
  });

  it('answers 413 for a body over the limit, whether or not it declares its length', async () => {
    const huge = JSON.stringify({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: email, pad: 'x'.repeat(70_000) });
    const declared = await place(huge, { 'content-length': String(huge.length) });
    expect(declared.res.status).toBe(413);
    expect(declared.body.error.code).toBe('payload_too_large');

    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(10_000)));
        controller.close();
      },
    });
    const chunked = await app.handle(
      new Request(`${BASE}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream }),
    );
    expect(chunked.status).toBe(413);
  });
});

describe('GET /orders/:id', () => {
  it('returns the order with its items and a null payment', async () => {
    const placed = await place({ items: [{ menuItemId: 2, quantity: 1 }], customerEmail: email });
    const res = await app.handle(get(`/orders/${placed.body.id}`));
    expect(res.status).toBe(200);
    expect(await readJson(res)).toEqual({ ...placed.body, customerEmail: 'g***@example.com' });
  });

  describe("and the customer's e-mail", () => {
    const ADMIN_TOKEN = 'orders-test-admin-token-0123';
    const withToken = () => createTestApp(tdb.db, { env: { ADMIN_TOKEN } }).app;

    it('is masked for anyone who only knows the id, a wrong token included, and in full in the 201 that placed it', async () => {
      const placed = await place({ items: [{ menuItemId: 2, quantity: 1 }], customerEmail: 'ada.lovelace@example.com' });
      expect(placed.body.customerEmail).toBe('ada.lovelace@example.com');
      for (const [theApp, headers] of [
        [app, {}],
        [app, { authorization: `Bearer ${ADMIN_TOKEN}` }], // an API without ADMIN_TOKEN has no admin
        [withToken(), {}],
        [withToken(), { authorization: 'Bearer not-the-admin-token-at-all' }],
        [withToken(), { authorization: ADMIN_TOKEN }],
      ] as const) {
        const res = await theApp.handle(get(`/orders/${placed.body.id}`, headers));
        expect(res.status).toBe(200);
        const text = await res.text();
        expect(text).not.toContain('ada.lovelace');
        expect(JSON.parse(text).customerEmail).toBe('a***@example.com');
      }
    });

    it('is shown in full with the admin token', async () => {
      const placed = await place({ items: [{ menuItemId: 2, quantity: 1 }], customerEmail: 'ada.lovelace@example.com' });
      const res = await withToken().handle(get(`/orders/${placed.body.id}`, { authorization: `Bearer ${ADMIN_TOKEN}` }));
      expect(await readJson(res)).toEqual(placed.body);
    });

    it('stays in full in an Idempotency-Key replay, which is the placing client asking again', async () => {
      const body = { items: [{ menuItemId: 2, quantity: 1 }], customerEmail: 'ada.lovelace@example.com' };
      const key = `mask-${Bun.randomUUIDv7()}`;
      const first = await place(body, { 'idempotency-key': key });
      const again = await place(body, { 'idempotency-key': key });
      expect(again.res.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(again.body.customerEmail).toBe('ada.lovelace@example.com');
    });
  });

  it('shows the payment outcome once one is recorded', async () => {
    const placed = await place({ items: [{ menuItemId: 2, quantity: 1 }], customerEmail: email });
    await tdb.db.execute(
      sql`insert into payment_attempts (order_id, outcome, attempts, charge_id) values (${placed.body.id}, 'succeeded', 2, 'ch_test_1')`,
    );
    await tdb.db.update(orders).set({ status: 'paid' }).where(eq(orders.id, placed.body.id));
    const body = await readJson(await app.handle(get(`/orders/${placed.body.id}`)));
    expect(body.status).toBe('paid');
    expect(body.payment).toMatchObject({ outcome: 'succeeded', attempts: 2, chargeId: 'ch_test_1', failureReason: null });
    expect(Date.parse(body.payment.processedAt)).not.toBeNaN();
  });

  it('answers 404 order_not_found for an unknown id', async () => {
    const res = await app.handle(get('/orders/0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11'));
    expect(res.status).toBe(404);
    expect((await readJson(res)).error.code).toBe('order_not_found');
  });

  it('answers 400 validation_failed for an id that is not a UUID', async () => {
    for (const id of ['123', 'not-a-uuid', "1'%20or%201=1", '%F0%9F%8D%95']) {
      const res = await app.handle(get(`/orders/${id}`));
      expect(res.status).toBe(400);
      expect((await readJson(res)).error.code).toBe('validation_failed');
    }
  });

  it('answers 400 for any id not in the canonical 8-4-4-4-12 form, a urn:uuid: prefix in either case included', async () => {
    // Elysia's uuid format let urn:uuid: through to PostgreSQL, which refused it: a 500.
    const placed = await place({ items: [{ menuItemId: 2, quantity: 1 }], customerEmail: email });
    for (const id of [`urn:uuid:${placed.body.id}`, `URN:UUID:${placed.body.id.toUpperCase()}`, `{${placed.body.id}}`, placed.body.id.replaceAll('-', '')]) {
      const res = await app.handle(get(`/orders/${encodeURIComponent(id)}`));
      expect(res.status).toBe(400);
      const { error } = await readJson(res);
      expect(error.code).toBe('validation_failed');
      // Refused by the path's schema, before any query.
      expect(error.details[0].field).toBe('/id');
    }
  });

  it('finds an order by its id in upper case, which PostgreSQL reads as the same UUID', async () => {
    const placed = await place({ items: [{ menuItemId: 2, quantity: 1 }], customerEmail: email });
    const res = await app.handle(get(`/orders/${placed.body.id.toUpperCase()}`));
    expect(res.status).toBe(200);
    expect((await readJson(res)).id).toBe(placed.body.id);
  });
});

describe('order items', () => {
  it('are stored one row per menu item with the unit price at order time', async () => {
    const placed = await place({ items: [{ menuItemId: 4, quantity: 2 }, { menuItemId: 4, quantity: 1 }], customerEmail: email });
    const rows = await tdb.db.select().from(orderItems).where(eq(orderItems.orderId, placed.body.id));
    expect(rows).toEqual([{ orderId: placed.body.id, menuItemId: 4, name: 'Crispy Chicken Sandwich', quantity: 3, unitPriceCents: 1150 }]);
  });
});

describe('the outbox', () => {
  it('gets the orders.placed event in the same transaction as the order', async () => {
    const placed = await place({ items: [{ menuItemId: 6, quantity: 2 }], customerEmail: email }, { 'x-request-id': 'outbox-req-1' });
    const rows = await tdb.db.select().from(outbox).where(eq(outbox.orderId, placed.body.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ eventType: 'OrderPlaced', stream: 'orders.placed', publishedAt: null });
    // The row holds the event as its schema defines it (envelope and payload); the relay encodes it.
    expect(rows[0]!.event).toEqual({
      eventId: rows[0]!.eventId,
      type: 'OrderPlaced',
      occurredAt: expect.any(String),
      requestId: 'outbox-req-1',
      payload: { orderId: placed.body.id },
    });
    expect(Events.orderPlaced.fromFields(Events.orderPlaced.toFields(rows[0]!.event as OrderPlaced))).toEqual(rows[0]!.event as OrderPlaced);
  });

  it('gets nothing when the order is refused', async () => {
    const [before] = await tdb.db.execute<{ n: number }>(sql`select count(*)::int as n from outbox`);
    await place({ items: [{ menuItemId: 999, quantity: 1 }], customerEmail: email });
    const [after] = await tdb.db.execute<{ n: number }>(sql`select count(*)::int as n from outbox`);
    expect(after!.n).toBe(before!.n);
  });
});

describe('deeply nested JSON', () => {
  it('is refused with 422 before validation, however deep', async () => {
    for (const depth of [33, 5_000, 30_000]) {
      const { res, body } = await place('['.repeat(depth) + ']'.repeat(depth));
      expect(res.status).toBe(422);
      expect(body.error.message).toContain('nested deeper than 32 levels');
    }
    const ok = await place({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: email, note: [[[[[[]]]]]] });
    expect(ok.res.status).toBe(201);
  });
});
