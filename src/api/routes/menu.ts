import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { CommonErrors } from '../models/error.ts';
import { MenuView } from '../models/menu.ts';
import { requestContext } from '../plugins/request-context.ts';
import { openApiResponses } from '../openapi.ts';
import { listMenu } from '../services/menu.ts';

const menuResponses = { 200: MenuView, ...CommonErrors };

export function menuRoutes({ db, log, metrics, config }: AppDeps) {
  return new Elysia().use(requestContext(log, metrics)).get('/menu', async () => ({ items: await listMenu(db, config.dbRetry) }), {
    response: menuResponses,
    detail: {
      tags: ['menu'],
      summary: 'List the menu',
      responses: openApiResponses(menuResponses),
      description: 'Every menu item with its price in cents. Items with `available: false` cannot be ordered right now.',
    },
  });
}
