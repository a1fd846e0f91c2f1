import { Type } from '@sinclair/typebox';
import { t } from 'elysia';

export const MenuItemView = t.Object({
  id: Type.Integer(),
  name: t.String(),
  description: t.String(),
  priceCents: Type.Integer({ description: 'Price in cents' }),
  available: t.Boolean({ description: 'Ordering an unavailable item is a 422 menu_item_unavailable' }),
});
export type MenuItemView = typeof MenuItemView.static;

export const MenuView = t.Object(
  { items: t.Array(MenuItemView) },
  {
    description: 'The whole menu, available or not',
    examples: [
      {
        items: [
          { id: 1, name: 'Margherita Pizza', description: 'San Marzano tomato, fior di latte, basil', priceCents: 1250, available: true },
        ],
      },
    ],
  },
);
