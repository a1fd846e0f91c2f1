import { timingSafeEqual } from 'node:crypto';
import { Elysia, t } from 'elysia';
import { AdminDisabled, DependencyUnavailable, Unauthorized } from '../../shared/errors.ts';
import { readBreakerStates } from '../../shared/ops/breakers.ts';
import { createDeadLetters } from '../../shared/ops/dead-letters.ts';
import { ordersByStatus } from '../../shared/ops/orders-by-status.ts';
import { pipelineReport } from '../../shared/ops/stream-report.ts';
import type { AppDeps } from '../deps.ts';
import { CommonErrors, errorResponse } from '../models/error.ts';
import { OpsSummary, PurgeResult, ReplayResult } from '../models/ops.ts';
import { openApiResponses } from '../openapi.ts';
import { requestContext } from '../plugins/request-context.ts';

const PAGE = new URL('../ops-page.html', import.meta.url);

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const summaryResponses = { 200: OpsSummary, ...CommonErrors };
const adminErrors = {
  401: errorResponse('unauthorized', 'Missing or wrong Authorization: Bearer <ADMIN_TOKEN>'),
  403: errorResponse('admin_disabled', 'ADMIN_TOKEN is not set on this API: admin endpoints are off'),
  404: errorResponse('dead_letter_not_found', 'No dead-lettered entry with this id'),
  ...CommonErrors,
};
const replayResponses = { 200: ReplayResult, ...adminErrors };
const purgeResponses = { 200: PurgeResult, ...adminErrors };
const StreamQuery = t.Object({ stream: t.Optional(t.UnionEnum(['payment.dlq', 'notify.dlq'])) });
const EntryParams = t.Object({ id: t.String({ pattern: '^\\d+-\\d+$', description: 'A dead-letter stream entry id' }) });

/**
 * The operations page (`GET /ops`, one HTML file, no build step, no external requests), the summary
 * it polls, and the admin endpoints its buttons call. Reading is open; replay and purge need the token.
 */
export function opsRoutes({ db, log, metrics, ops, config }: AppDeps) {
  const need = () => {
    if (!ops) throw new DependencyUnavailable('Redis (operations)', new Error('no Redis connection given to the app'));
    return ops;
  };
  const deadLetters = () => createDeadLetters(need().redis, need().prefix);

  const admin = new Elysia()
    .use(requestContext(log, metrics))
    .onBeforeHandle(({ request }) => {
      if (!config.adminToken) throw new AdminDisabled();
      const header = request.headers.get('authorization') ?? '';
      const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
      if (!token || !sameToken(token, config.adminToken)) throw new Unauthorized();
    })
    .post('/admin/dead-letters/:id/replay', async ({ params }) => ({ replayed: await deadLetters().replay({ id: params.id }) }), {
      params: EntryParams,
      response: replayResponses,
      detail: { tags: ['admin'], summary: 'Replay one dead letter onto its original stream', security: [{ bearer: [] }], responses: openApiResponses(replayResponses) },
    })
    .post('/admin/dead-letters/replay', async ({ query }) => ({ replayed: await deadLetters().replay({ all: true, stream: query.stream }) }), {
      query: StreamQuery,
      response: replayResponses,
      detail: { tags: ['admin'], summary: 'Replay every dead letter (optionally of one stream)', security: [{ bearer: [] }], responses: openApiResponses(replayResponses) },
    })
    .delete('/admin/dead-letters/:id', async ({ params }) => ({ purged: await deadLetters().purge({ id: params.id }) }), {
      params: EntryParams,
      response: purgeResponses,
      detail: { tags: ['admin'], summary: 'Delete one dead letter for good', security: [{ bearer: [] }], responses: openApiResponses(purgeResponses) },
    })
    .delete('/admin/dead-letters', async ({ query }) => ({ purged: await deadLetters().purge({ all: true, stream: query.stream }) }), {
      query: StreamQuery,
      response: purgeResponses,
      detail: { tags: ['admin'], summary: 'Delete every dead letter (optionally of one stream)', security: [{ bearer: [] }], responses: openApiResponses(purgeResponses) },
    });

  return new Elysia()
    .use(requestContext(log, metrics))
    .get('/ops', () => new Response(Bun.file(PAGE), { headers: { 'content-type': 'text/html; charset=utf-8' } }), {
      detail: {
        tags: ['operations'],
        summary: 'The operations page',
        description: 'Live streams, groups, dead letters with their errors, orders by status, breaker states; replay and purge with the admin token.',
        responses: { 200: { description: 'An HTML page', content: { 'text/html': { schema: t.String({ examples: ['<!doctype html>...'] }) } } } },
      },
    })
    .get(
      '/ops/summary',
      async () => {
        const { redis, prefix } = need();
        const [report, letters, breakers, buckets] = await Promise.all([
          pipelineReport({ redis, db, prefix }),
          deadLetters().list(undefined, 50),
          readBreakerStates(redis, prefix),
          ordersByStatus(db, 15),
        ]);
        return {
          generatedAt: new Date().toISOString(),
          adminEnabled: Boolean(config.adminToken),
          streams: report.streams,
          deadLetterCounts: report.deadLetters,
          deadLetters: letters.slice(0, 50),
          outbox: report.outbox,
          breakers,
          ordersByStatus: buckets,
        };
      },
      {
        response: summaryResponses,
        detail: { tags: ['operations'], summary: 'What the operations page shows, as JSON', responses: openApiResponses(summaryResponses) },
      },
    )
    .use(admin);
}
