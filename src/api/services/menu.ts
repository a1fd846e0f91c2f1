import { asc } from 'drizzle-orm';
import type { Database } from '../../shared/db/client.ts';
import { menuItems } from '../../shared/db/schema.ts';
import type { MenuItemView } from '../models/menu.ts';
import { withDbRetry, type DbRetryOptions } from './db-retry.ts';

/** The whole menu, read again after a transient database failure, within the retry budget. */
export async function listMenu(db: Database, retry: DbRetryOptions): Promise<MenuItemView[]> {
  return withDbRetry(() => db
    .select({
      id: menuItems.id,
      name: menuItems.name,
      description: menuItems.description,
      priceCents: menuItems.priceCents,
      available: menuItems.available,
    })
    .from(menuItems)
    .orderBy(asc(menuItems.id)), retry);
}
