import { sql } from 'drizzle-orm';
import { Events } from '../../src/shared/pipeline/events.ts';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { recordToFields } from '../../src/shared/streams/stream-id.ts';
import type { Pipeline } from '../helpers/pipeline.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** An orders.placed entry for an order that is not in the database yet: the payment worker dead-letters it. */
export async function deadLetterAnOrder(pipeline: Pipeline) {
  const orderId = Bun.randomUUIDv7();
  const event = Events.orderPlaced.create(
    { orderId },
    `ops-${orderId}`,
  );
  await pipeline.admin.xadd(pipeline.key(TOPOLOGY.OrderPlaced.stream), '*', ...recordToFields(Events.orderPlaced.toFields(event)));
  const letter = await waitFor(async () => (await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).find((l) => l.fields?.includes(orderId)), {
    what: 'the entry to be dead-lettered',
  });
  return { orderId, letterId: letter.id };
}

/** The cause of that dead letter, fixed: the order now exists. */
export async function fixMissingOrder(pipeline: Pipeline, orderId: string) {
  await pipeline.db.execute(sql`insert into orders (id, customer_email, total_cents, request_id) values (${orderId}, 'late@example.com', 1250, ${`ops-${orderId}`})`);
  await pipeline.db.execute(sql`insert into order_items (order_id, menu_item_id, name, quantity, unit_price_cents) values (${orderId}, 1, 'Margherita Pizza', 1, 1250)`);
}
