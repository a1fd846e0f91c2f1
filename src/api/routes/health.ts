import { Elysia, t } from 'elysia';
import { HEALTH_CHECK_TIMEOUT_MS, runHealthChecks } from '../../shared/runtime/health.ts';
import { liveReport, probeStatus, readyReport } from '../../shared/runtime/probes.ts';
import type { AppDeps } from '../deps.ts';
import { CommonErrors } from '../models/error.ts';
import { HealthView, LiveView, ReadyView } from '../models/health.ts';
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

const liveResponses = {
  200: LiveView,
  503: t.Object(LiveView.properties, { description: 'The process was told to stop and is finishing its work', examples: [{ status: 'shutting_down' }] }),
  500: CommonErrors[500],
};

const readyResponses = {
  200: ReadyView,
  503: t.Object(ReadyView.properties, {
    description: 'A dependency did not answer (the failing check says "error"), or the process is stopping',
    examples: [
      { status: 'unavailable', checks: { postgres: 'error' } },
      { status: 'shutting_down', checks: {} },
    ],
  }),
  500: CommonErrors[500],
};

export function healthRoutes({ log, healthChecks, readinessChecks = healthChecks, metrics, shutdown }: AppDeps) {
  return new Elysia()
    .use(requestContext(log, metrics))
    .get(
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
    )
    .get(
      '/health/live',
      ({ status }) => {
        const report = liveReport(shutdown);
        return probeStatus(report) === 200 ? status(200, report) : status(503, report);
      },
      {
        response: liveResponses,
        detail: {
          tags: ['health'],
          summary: 'Liveness probe: does the process answer?',
          responses: openApiResponses(liveResponses),
          description:
            'For a Kubernetes livenessProbe. 200 whenever the event loop answers, whatever PostgreSQL and Redis do (the API rides out their outages; restarting it would not help); 503 once it is shutting down.',
        },
      },
    )
    .get(
      '/health/ready',
      async ({ log, status }) => {
        const report = await readyReport(readinessChecks, log, shutdown);
        return probeStatus(report) === 200 ? status(200, report) : status(503, report);
      },
      {
        response: readyResponses,
        detail: {
          tags: ['health'],
          summary: 'Readiness probe: do its dependencies answer?',
          responses: openApiResponses(readyResponses),
          description: `For a Kubernetes readinessProbe: 200 when PostgreSQL answers within ${HEALTH_CHECK_TIMEOUT_MS} ms; 503 naming the failing check, or once the process is shutting down. Redis is left out on purpose: while it is away orders are still taken (they wait in the outbox), so the API must stay in rotation; /health reports it.`,
        },
      },
    );
}
