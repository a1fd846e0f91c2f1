import { afterAll, describe, expect, it } from 'bun:test';
import postgres from 'postgres';
import { ensureDatabase, migrateDatabase } from '../../src/shared/db/migrate.ts';
import { databaseUrl, dropDatabase, uniqueDatabaseName } from '../helpers/db.ts';
import { migrationFolders } from '../helpers/migrations.ts';

const name = uniqueDatabaseName('deliveries_migration');
const url = databaseUrl(name);
const migrations = migrationFolders();
afterAll(async () => {
  await dropDatabase(name);
  await migrations.remove();
});

describe('the deliveries migration', () => {
  it('turns every notification recorded before into an e-mail delivery, sent when it was recorded, so nobody is told twice', async () => {
    await ensureDatabase(url);
    await migrateDatabase(url, await migrations.before('0009_deliveries'));
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [told, waiting] = [Bun.randomUUIDv7(), Bun.randomUUIDv7()];
      for (const id of [told, waiting]) {
        await sql`insert into orders (id, customer_email, status, total_cents, request_id) values (${id}, 'ada@example.com', 'paid', 1250, ${`req-${id}`})`;
      }
      const eventId = crypto.randomUUID();
      await sql`insert into notifications (order_id, event_id, recipient, outcome, request_id, created_at) values (${told}, ${eventId}, 'ada@example.com', 'succeeded', ${`req-${told}`}, '2026-11-25T12:00:00Z')`;
      await sql`update orders set notified_at = '2026-11-25T12:00:00Z' where id = ${told}`;

      await migrateDatabase(url);

      const rows = await sql`select order_id, channel::text, status::text, recipient, outcome::text, attempts, event_id, request_id, sent_at, message_id from deliveries`;
      expect([...rows]).toEqual([
        {
          order_id: told,
          channel: 'email',
          status: 'sent',
          recipient: 'ada@example.com',
          outcome: 'succeeded',
          attempts: 1,
          event_id: eventId,
          request_id: `req-${told}`,
          sent_at: new Date('2026-11-25T12:00:00Z'),
          message_id: null,
        },
      ]);
      const [table] = await sql<{ exists: boolean }[]>`select to_regclass('public.notifications') is not null as exists`;
      expect(table!.exists).toBe(false);
      // notified_at keeps its meaning: set exactly for the orders whose e-mail is sent.
      const notified = await sql`select id from orders where notified_at is not null`;
      expect(notified.map((row) => row.id)).toEqual([told]);
    } finally {
      await sql.end();
    }
  });
});
