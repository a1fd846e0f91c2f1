import { swagger } from '@elysiajs/swagger';
import { Elysia } from 'elysia';
import type { AppDeps } from './deps.ts';
import { errorHandler } from './errors/handler.ts';
import { requestContext } from './plugins/request-context.ts';
import { requestTracing } from './plugins/request-tracing.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { adminRoutes } from './routes/admin.ts';
import { healthRoutes } from './routes/health.ts';
import { menuRoutes } from './routes/menu.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { opsRoutes } from './routes/ops.ts';
import { ordersRoutes } from './routes/orders.ts';
import { orderEventsRoutes } from './routes/order-events.ts';

/** Builds the HTTP API without listening, so tests drive it with `app.handle(request)`. */
export function createApp(deps: AppDeps) {
  return new Elysia()
    .use(requestTracing(deps.tracing))
    .use(errorHandler(deps.log))
    .use(requestContext(deps.log, deps.metrics))
    .use(
      swagger({
        provider: 'swagger-ui',
        path: '/docs',
        documentation: {
          openapi: '3.1.0',
          info: {
            title: 'Order service',
            version: '0.1.0',
            description:
              'Place food orders from a seeded menu and follow them through payment. Every error is `{ "error": { "code", "message", "requestId" } }`.',
          },
          components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN the API was started with' } } },
          tags: [
            { name: 'orders', description: 'Place and read orders' },
            { name: 'menu', description: 'What can be ordered' },
            { name: 'health', description: 'Liveness of the service and its dependencies' },
            { name: 'operations', description: 'The operations page and its data' },
            { name: 'admin', description: 'Replay and purge dead letters; Authorization: Bearer <ADMIN_TOKEN>' },
            { name: 'webhooks', description: 'What the payment provider tells us, signed' },
          ],
        },
      }),
    )
    .use(menuRoutes(deps))
    .use(ordersRoutes(deps))
    .use(orderEventsRoutes(deps))
    .use(healthRoutes(deps))
    .use(metricsRoutes(deps))
    .use(opsRoutes(deps))
    .use(adminRoutes(deps))
    .use(webhookRoutes(deps));
}

export type App = ReturnType<typeof createApp>;
