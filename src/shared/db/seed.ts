import { count, sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import { menuItems, type NewMenuItem } from './schema.ts';

/** The starting menu. Ids are fixed so that examples in the README work on every machine. */
export const SEED_MENU: readonly Required<Pick<NewMenuItem, 'id' | 'name' | 'description' | 'priceCents'>>[] = [
  { id: 1, name: 'Margherita Pizza', description: 'San Marzano tomato, fior di latte, basil', priceCents: 1250 },
  { id: 2, name: 'Pepperoni Pizza', description: 'Tomato, mozzarella, spicy pepperoni', priceCents: 1450 },
  { id: 3, name: 'Classic Cheeseburger', description: 'Beef patty, cheddar, pickles, house sauce', priceCents: 1195 },
  { id: 4, name: 'Crispy Chicken Sandwich', description: 'Buttermilk fried chicken, slaw, brioche', priceCents: 1150 },
  { id: 5, name: 'Caesar Salad', description: 'Romaine, parmesan, garlic croutons', priceCents: 925 },
  { id: 6, name: 'Pad Thai', description: 'Rice noodles, tamarind, peanuts, lime', priceCents: 1375 },
  { id: 7, name: 'Chicken Tikka Masala', description: 'With basmati rice', priceCents: 1525 },
  { id: 8, name: 'Salmon Poke Bowl', description: 'Sushi rice, avocado, edamame, ponzu', priceCents: 1595 },
  { id: 9, name: 'Veggie Burrito', description: 'Black beans, rice, pico de gallo, guacamole', priceCents: 1075 },
  { id: 10, name: 'Truffle Fries', description: 'Parmesan, parsley, truffle oil', priceCents: 650 },
  { id: 11, name: 'Chocolate Brownie', description: 'Warm, with sea salt', priceCents: 495 },
  { id: 12, name: 'Sparkling Lemonade', description: '330 ml', priceCents: 375 },
];

/**
 * Seeds the menu when it is empty. Safe to run twice or from two processes at once:
 * rows have fixed ids and conflicting inserts are skipped. Returns how many rows it added.
 */
export async function seedMenu(db: Database): Promise<number> {
  const [existing] = await db.select({ n: count() }).from(menuItems);
  if ((existing?.n ?? 0) > 0) return 0;
  const inserted = await db
    .insert(menuItems)
    .values([...SEED_MENU])
    .onConflictDoNothing()
    .returning({ id: menuItems.id });
  // Explicit ids bypass the identity sequence; move it past them so the next item added by hand gets a free id.
  await db.execute(
    sql`select setval(pg_get_serial_sequence('menu_items', 'id'), (select max(id) from menu_items))`,
  );
  return inserted.length;
}
