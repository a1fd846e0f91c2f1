import { Elysia, t } from 'elysia';
import { withTimeout } from '../../shared/with-timeout.ts';
import type { AppDeps } from '../deps.ts';
import { CommonErrors } from '../models/error.ts';
import { HealthView } from '../models/health.ts';
import { requestContext } from '../plugins/request-context.ts';
import { openApiResponses } from '../openapi.ts';

const CHECK_TIMEOUT_MS = 2000;

const healthResponses = {
  200: HealthView,
  503: t.Object(HealthView.properties, {
    description: 'At least one dependency did not answer; the failing check says "error"',
    examples: [{ status: 'unavailable', checks: { postgres: 'error' } }],
  }),
  500: CommonErrors[500],
};

export function healthRoutes({ log, healthChecks }: AppDeps) {
  return new Elysia().use(requestContext(log)).get(
    '/health',
    async ({ log, status }) => {
      const results = await Promise.all(
        Object.entries(healthChecks).map(async ([name, check]) => {
          try {
            await withTimeout(check(), CHECK_TIMEOUT_MS, `${name} health check`);
            return [name, 'ok'] as const;
          } catch (err) {
            log.warn({ err, check: name }, 'health check failed');
            return [name, 'error'] as const;
          }
        }),
      );
      const healthy = results.every(([, state]) => state === 'ok');
      const body: HealthView = { status: healthy ? 'ok' : 'unavailable', checks: Object.fromEntries(results) };
      return healthy ? status(200, body) : status(503, body);
    },
    {
      response: healthResponses,
      detail: {
        tags: ['health'],
        summary: 'Is the service and each dependency up?',
        responses: openApiResponses(healthResponses),
        description: '200 when every dependency answers within 2 s; 503 naming the failing check otherwise.',
      },
    },
  );
}
