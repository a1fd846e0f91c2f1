import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { eq } from 'drizzle-orm';
import { menuItems } from '../../src/shared/db/schema.ts';
import { SEED_MENU, seedMenu } from '../../src/shared/db/seed.ts';
import { createTestApp, get, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let tdb: TestDatabase;
let app: ReturnType<typeof createTestApp>['app'];

beforeAll(async () => {
  tdb = await createTestDatabase('menu');
  await seedMenu(tdb.db);
  app = createTestApp(tdb.db).app;
});
afterAll(() => tdb.drop());

describe('GET /menu', () => {
  it('lists the seeded items with integer prices in cents', async () => {
    const res = await app.handle(get('/menu'));
    expect(res.status).toBe(200);
    const body = await readJson(res);
    expect(body.items).toHaveLength(SEED_MENU.length);
    expect(body.items[0]).toEqual({
      id: 1,
      name: 'Margherita Pizza',
      description: SEED_MENU[0]!.description,
      priceCents: 1250,
      available: true,
    });
    for (const item of body.items) expect(Number.isInteger(item.priceCents)).toBe(true);
  });

  it('shows an item marked unavailable, and refuses orders for it with 422 menu_item_unavailable', async () => {
    await tdb.db.update(menuItems).set({ available: false }).where(eq(menuItems.id, 5));
    try {
      const menu = await readJson(await app.handle(get('/menu')));
      expect(menu.items.find((item: { id: number }) => item.id === 5).available).toBe(false);

      const res = await app.handle(
        postJson('/orders', { items: [{ menuItemId: 1, quantity: 1 }, { menuItemId: 5, quantity: 1 }], customerEmail: 'a@example.com' }),
      );
      expect(res.status).toBe(422);
      const body = await readJson(res);
      expect(body.error.code).toBe('menu_item_unavailable');
      expect(body.error.message).toContain('Caesar Salad');
      expect(body.error.details).toEqual({ menuItemIds: [5] });
    } finally {
      await tdb.db.update(menuItems).set({ available: true }).where(eq(menuItems.id, 5));
    }
  });
});
