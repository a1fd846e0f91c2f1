import { Elysia, t } from 'elysia';
import { HEALTH_CHECK_TIMEOUT_MS, runHealthChecks } from '../../shared/runtime/health.ts';
import type { AppDeps } from '../deps.ts';
import { CommonErrors } from '../models/error.ts';
import { HealthView } from '../models/health.ts';
import { requestContext } from '../plugins/request-context.ts';
import { openApiResponses } from '../openapi.ts';

const healthResponses = {
  200: HealthView,
  503: t.Object(HealthView.properties, {
    description: 'At least one dependency did not answer; the failing check says "error"',
    examples: [{ status: 'unavailable', checks: { postgres: 'ok', redis: 'error' } }],
  }),
  500: CommonErrors[500],
};

export function healthRoutes({ log, healthChecks, metrics }: AppDeps) {
  return new Elysia().use(requestContext(log, metrics)).get(
    '/health',
    async ({ log, status }) => {
      const report = await runHealthChecks(healthChecks, log);
      return report.status === 'ok' ? status(200, report) : status(503, report);
    },
    {
      response: healthResponses,
      detail: {
        tags: ['health'],
        summary: 'Is the service and each dependency up?',
        responses: openApiResponses(healthResponses),
        description: `200 when every dependency answers within ${HEALTH_CHECK_TIMEOUT_MS} ms; 503 naming the failing check otherwise.`,
      },
    },
  );
}
