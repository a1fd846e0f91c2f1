import { randomBytes } from 'node:crypto';
import { Elysia, t } from 'elysia';
import { readBreakerStates } from '../../shared/ops/breakers.ts';
import { maskReport } from '../../shared/ops/masking.ts';
import { ordersByStatus } from '../../shared/ops/orders-by-status.ts';
import { pipelineReport } from '../../shared/ops/stream-report.ts';
import type { AppDeps } from '../deps.ts';
import { CommonErrors } from '../models/error.ts';
import { OpsSummary } from '../models/ops.ts';
import { openApiResponses } from '../openapi.ts';
import { isAdmin } from '../plugins/admin-auth.ts';
import { requestContext } from '../plugins/request-context.ts';
import { opsConnection } from './ops-connection.ts';

const PAGE = new URL('../ops-page.html', import.meta.url);

const summaryResponses = { 200: OpsSummary, ...CommonErrors };

/**
 * The operations page (`GET /ops`, one HTML file, no build step, no external requests), the summary
 * it polls. Its buttons call the admin routes (./admin.ts). The summary is masked unless the request
 * carries the admin token (src/shared/ops/masking.ts says what is hidden).
 */
export function opsRoutes({ db, log, metrics, ops, config }: AppDeps) {
  // Keys the opaque consumer and order labels: with the admin token they agree across API replicas and restarts;
  // without one nobody can unmask, and a key of this process keeps them stable while it runs.
  const labelKey = config.adminToken ?? randomBytes(32).toString('hex');
  return new Elysia()
    .use(requestContext(log, metrics))
    .get('/ops', () => new Response(Bun.file(PAGE), { headers: { 'content-type': 'text/html; charset=utf-8' } }), {
      detail: {
        tags: ['operations'],
        summary: 'The operations page',
        description: 'Live streams, groups, dead letters with their errors, notifications waiting and failed per channel, orders by status, breaker states; replay and purge with the admin token.',
        responses: { 200: { description: 'An HTML page', content: { 'text/html': { schema: t.String({ examples: ['<!doctype html>...'] }) } } } },
      },
    })
    .get(
      '/ops/summary',
      async ({ request }) => {
        const { redis, prefix, partitions, deadLetters } = opsConnection(ops);
        const [report, letters, breakers, buckets] = await Promise.all([
          pipelineReport({ redis, db, prefix, partitions }),
          deadLetters.list(undefined, 50),
          readBreakerStates(redis, prefix),
          ordersByStatus(db, 15),
        ]);
        const masked = !isAdmin(request, config.adminToken);
        const summary = {
          generatedAt: new Date().toISOString(),
          adminEnabled: Boolean(config.adminToken),
          masked,
          streams: report.streams,
          totals: report.totals,
          deadLetterCounts: report.deadLetters,
          deadLetters: letters.slice(0, 50),
          outbox: report.outbox,
          deliveries: report.deliveries,
          breakers,
          ordersByStatus: buckets,
        };
        return masked ? maskReport(summary, labelKey) : summary;
      },
      {
        response: summaryResponses,
        detail: {
          tags: ['operations'],
          summary: 'What the operations page shows, as JSON',
          description:
            'Without `Authorization: Bearer <ADMIN_TOKEN>` (or with a wrong one) customer data, order ids and host names are masked (`masked: true`); with it, the full dead-letter bodies.',
          // The token is optional here: it only decides whether the answer is masked.
          security: [{}, { bearer: [] }],
          responses: openApiResponses(summaryResponses),
        },
      },
    );
}
