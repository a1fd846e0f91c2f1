import { asc } from 'drizzle-orm';
import type { Database } from '../../shared/db/client.ts';
import { menuItems } from '../../shared/db/schema.ts';
import type { MenuItemView } from '../models/menu.ts';

export async function listMenu(db: Database): Promise<MenuItemView[]> {
  return db
    .select({
      id: menuItems.id,
      name: menuItems.name,
      description: menuItems.description,
      priceCents: menuItems.priceCents,
      available: menuItems.available,
    })
    .from(menuItems)
    .orderBy(asc(menuItems.id));
}
