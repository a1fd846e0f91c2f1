import { Elysia, t } from 'elysia';
import { DeadLetterNotFound, UnknownDeadLetterStream } from '../../shared/ops/dead-letters.ts';
import { DEAD_LETTER_STREAMS } from '../../shared/pipeline/topology.ts';
import { isStreamId } from '../../shared/streams/stream-id.ts';
import type { AppDeps } from '../deps.ts';
import { AdminDisabled, Unauthorized, ValidationFailed } from '../errors/domain.ts';
import { CommonErrors, errorResponses } from '../models/error.ts';
import { PurgeResult, ReplayResult } from '../models/ops.ts';
import { openApiResponses } from '../openapi.ts';
import { adminAuth } from '../plugins/admin-auth.ts';
import { requestContext } from '../plugins/request-context.ts';
import { opsConnection } from './ops-connection.ts';

const EntryParams = t.Object({
  id: t.String({ pattern: '^\\d{1,20}-\\d{1,20}$', description: 'A dead-letter stream entry id: `<ms>-<seq>`, each part at most 2^64-1' }),
});
const idOutOfRange = () =>
  new ValidationFailed('Invalid params: /id Each part of a stream id must be at most 2^64-1', [{ field: '/id', message: 'Each part must be at most 18446744073709551615' }], 'params');

/** The pattern bounds the digits; this bounds the value, which Redis refuses with an error (it was a 500). */
function entryId(id: string): string {
  if (!isStreamId(id)) throw idOutOfRange();
  return id;
}

const adminErrors = {
  ...errorResponses(new UnknownDeadLetterStream('orders.dlq'), idOutOfRange(), new Unauthorized(), new AdminDisabled(), new DeadLetterNotFound('1795614405774-3')),
  ...CommonErrors,
};
const replayResponses = { 200: ReplayResult, ...adminErrors };
const purgeResponses = { 200: PurgeResult, ...adminErrors };
const StreamQuery = t.Object({ stream: t.Optional(t.UnionEnum(DEAD_LETTER_STREAMS)) });
const detail = (summary: string, responses: Parameters<typeof openApiResponses>[0]) => ({
  tags: ['admin'],
  summary,
  security: [{ bearer: [] }],
  responses: openApiResponses(responses),
});

/** Replay and purge dead letters: the buttons of the operations page, behind the admin token. */
export function adminRoutes({ log, metrics, ops, config }: AppDeps) {
  const deadLetters = () => opsConnection(ops).deadLetters;
  return new Elysia()
    .use(requestContext(log, metrics))
    .use(adminAuth(config.adminToken))
    .post('/admin/dead-letters/:id/replay', async ({ params }) => ({ replayed: await deadLetters().replay({ id: entryId(params.id) }) }), {
      params: EntryParams,
      response: replayResponses,
      detail: detail('Replay one dead letter onto its original stream', replayResponses),
    })
    .post('/admin/dead-letters/replay', async ({ query }) => ({ replayed: await deadLetters().replay({ all: true, stream: query.stream }) }), {
      query: StreamQuery,
      response: replayResponses,
      detail: detail('Replay every dead letter (optionally of one stream)', replayResponses),
    })
    .delete('/admin/dead-letters/:id', async ({ params }) => ({ purged: await deadLetters().purge({ id: entryId(params.id) }) }), {
      params: EntryParams,
      response: purgeResponses,
      detail: detail('Delete one dead letter for good', purgeResponses),
    })
    .delete('/admin/dead-letters', async ({ query }) => ({ purged: await deadLetters().purge({ all: true, stream: query.stream }) }), {
      query: StreamQuery,
      response: purgeResponses,
      detail: detail('Delete every dead letter (optionally of one stream)', purgeResponses),
    });
}
