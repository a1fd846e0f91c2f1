import { Elysia, t } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { requestContext } from '../plugins/request-context.ts';

export function metricsRoutes({ log, metrics }: AppDeps) {
  return new Elysia().use(requestContext(log, metrics)).get(
    '/metrics',
    async ({ set }) => {
      set.headers['content-type'] = metrics.contentType;
      return metrics.scrape();
    },
    {
      detail: {
        tags: ['health'],
        summary: 'Prometheus metrics',
        description:
          'Prometheus text format: HTTP requests and latency by route and status, orders created, open order event streams, stream lag and pending per group, dead-letter stream lengths, outbox backlog, and the process defaults.',
        responses: {
          200: {
            description: 'Metrics in the Prometheus text exposition format',
            content: { 'text/plain': { schema: t.String({ examples: ['orders_created_total{service="api"} 42'] }) } },
          },
        },
      },
    },
  );
}
