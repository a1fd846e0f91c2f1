import { afterAll, describe, expect, it } from 'bun:test';
import postgres from 'postgres';
import { ensureDatabase, migrateDatabase } from '../../src/shared/db/migrate.ts';
import { Events, eventDefinitionOf, type OrderPlaced } from '../../src/shared/pipeline/events.ts';
import { databaseUrl, dropDatabase, uniqueDatabaseName } from '../helpers/db.ts';
import { migrationFolders } from '../helpers/migrations.ts';

const name = uniqueDatabaseName('outbox_migration');
const url = databaseUrl(name);
const migrations = migrationFolders();
afterAll(async () => {
  await dropDatabase(name);
  await migrations.remove();
});

describe('the outbox_event migration', () => {
  it('turns a row written as flat stream fields, still waiting, into an event the relay encodes to the same fields', async () => {
    await ensureDatabase(url);
    await migrateDatabase(url, await migrations.before('0006_outbox_event'));
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const orderId = Bun.randomUUIDv7();
      // What the API wrote before: the stream fields, flat, totals as strings, items as JSON text.
      const legacy = {
        eventId: crypto.randomUUID(),
        type: 'OrderPlaced',
        occurredAt: new Date().toISOString(),
        requestId: 'req-legacy',
        orderId,
        customerEmail: 'ada@example.com',
        totalCents: '1250',
        items: '[{"menuItemId":1,"quantity":1,"unitPriceCents":1250}]',
      };
      await sql`insert into outbox (event_id, event_type, stream, order_id, fields) values (${legacy.eventId}, 'OrderPlaced', 'orders.placed', ${orderId}, ${sql.json(legacy)})`;
      await sql`insert into outbox (event_id, event_type, stream, order_id, fields, published_at) values (${crypto.randomUUID()}, 'OrderPlaced', 'orders.placed', ${orderId}, ${sql.json({ ...legacy, eventId: 'x' })}, now())`;
      await migrateDatabase(url);

      const [waiting] = await sql<{ event: OrderPlaced }[]>`select event from outbox where published_at is null`;
      expect(waiting!.event).toMatchObject({ eventId: legacy.eventId, type: 'OrderPlaced', requestId: 'req-legacy', payload: { orderId } });
      // The relay's encoder gives back exactly the fields the row held, and a consumer reads them as a valid event.
      const fields = eventDefinitionOf(waiting!.event.type).toFields(waiting!.event);
      expect(fields).toEqual(legacy);
      expect(Events.orderPlaced.fromFields(fields).payload.orderId).toBe(orderId);
      // Published rows are history: left as they were.
      const [published] = await sql<{ event: Record<string, unknown> }[]>`select event from outbox where published_at is not null`;
      expect(published!.event).not.toHaveProperty('payload');
    } finally {
      await sql.end();
    }
  });
});
