import { afterAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { createDb } from '../../src/shared/db/client.ts';
import { ensureDatabase, migrateDatabase } from '../../src/shared/db/migrate.ts';
import { SEED_MENU, seedMenu } from '../../src/shared/db/seed.ts';
import { databaseUrl, dropDatabase, uniqueDatabaseName } from '../helpers/db.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

const created: string[] = [];
afterAll(async () => {
  for (const name of created) await dropDatabase(name);
});

function freshDatabase(label: string) {
  const name = uniqueDatabaseName(label);
  created.push(name);
  return databaseUrl(name);
}

describe('db:migrate', () => {
  it('creates the database and every table on an empty server', async () => {
    const url = freshDatabase('migrate_empty');
    expect(await ensureDatabase(url)).toBe(true);
    expect(await ensureDatabase(url)).toBe(false);
    await migrateDatabase(url);

    const handle = createDb(url, { max: 1 });
    try {
      const tables = await handle.db.execute<{ table_name: string }>(
        sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`,
      );
      expect(tables.map((row) => row.table_name)).toEqual([
        'deliveries',
        'gateway_charges',
        'idempotency_keys',
        'menu_items',
        'order_items',
        'orders',
        'outbox',
        'payment_attempts',
        'payment_intents',
        'provider_events',
      ]);
      // The order status is enforced by the database, not only by the API.
      const bad = handle.sql`insert into orders (id, customer_email, status, total_cents, request_id)
        values (gen_random_uuid(), 'a@b.c', 'shipped', 1, 'r')`;
      await expect(bad).rejects.toThrow(/invalid input value for enum order_status/);
    } finally {
      await handle.close();
    }
  });

  it('applies each migration once when several processes migrate at the same time', async () => {
    const url = freshDatabase('migrate_race');
    await ensureDatabase(url);
    await Promise.all([migrateDatabase(url), migrateDatabase(url), migrateDatabase(url)]);
    const handle = createDb(url, { max: 1 });
    try {
      const [row] = await handle.db.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      const journal = await Bun.file(new URL('../../drizzle/meta/_journal.json', import.meta.url)).json();
      expect(row?.n).toBe(journal.entries.length);
    } finally {
      await handle.close();
    }
  });

  it('leaves orders three indexes to maintain, and vacuums outbox and orders after a fixed number of changed rows', async () => {
    const url = freshDatabase('migrate_tables');
    await ensureDatabase(url);
    await migrateDatabase(url);
    const handle = createDb(url, { max: 1 });
    try {
      // An order's insert and its two updates (payment, notify) add entries to these: the updates are
      // never HOT, as status, updated_at and notified_at are each indexed or in a partial index's predicate.
      const indexes = await handle.db.execute<{ name: string }>(sql`select indexname as name from pg_indexes where tablename = 'orders' order by 1`);
      expect(indexes.map((index) => index.name)).toEqual(['orders_created_at_status_idx', 'orders_pkey', 'orders_unfinished_idx']);
      const tables = await handle.db.execute<{ name: string; options: string[] }>(
        sql`select relname as name, reloptions as options from pg_class where relname in ('orders', 'outbox') order by 1`,
      );
      const fixed = ['autovacuum_vacuum_scale_factor=0', 'autovacuum_vacuum_threshold=5000', 'autovacuum_analyze_scale_factor=0', 'autovacuum_analyze_threshold=5000'];
      expect([...tables]).toEqual([
        { name: 'orders', options: fixed },
        { name: 'outbox', options: fixed },
      ]);
    } finally {
      await handle.close();
    }
  });
});

describe('menu seed', () => {
  it('fills an empty menu once, even when two processes seed at the same time', async () => {
    const url = freshDatabase('seed');
    await ensureDatabase(url);
    await migrateDatabase(url);
    const first = createDb(url, { max: 2 });
    const second = createDb(url, { max: 2 });
    try {
      const [a, b] = await Promise.all([seedMenu(first.db), seedMenu(second.db)]);
      expect(a + b).toBe(SEED_MENU.length);
      expect(await seedMenu(first.db)).toBe(0);
      const [row] = await first.db.execute<{ n: number }>(sql`select count(*)::int as n from menu_items`);
      expect(row?.n).toBe(SEED_MENU.length);
      // The identity sequence was moved past the fixed ids, so a hand-added item gets a free id.
      const [added] = await first.db.execute<{ id: number }>(
        sql`insert into menu_items (name, price_cents) values ('Daily Special', 1800) returning id`,
      );
      expect(added?.id).toBe(SEED_MENU.length + 1);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
