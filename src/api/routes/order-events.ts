import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { OrderNotFound, ServiceUnavailable, StreamsUnavailable, TooManyStreams, ValidationFailed } from '../errors/domain.ts';
import { CommonErrors, errorResponses } from '../models/error.ts';
import { ORDER_ID_PATTERN, OrderIdParams } from '../models/order.ts';
import { OrderEventsHeaders, OrderEventStream } from '../models/order-events.ts';
import { openApiResponses } from '../openapi.ts';
import { isAdmin } from '../plugins/admin-auth.ts';
import { requestContext } from '../plugins/request-context.ts';
import { createEventStreamBody } from './event-stream-body.ts';

const EXAMPLE_ID = '0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11';

const errors = {
  ...errorResponses(
    new ValidationFailed(`Invalid params: /id Expected string to match '${ORDER_ID_PATTERN}'`, [{ field: '/id', message: `Expected string to match '${ORDER_ID_PATTERN}'` }], 'params'),
    new OrderNotFound(EXAMPLE_ID),
    new TooManyStreams(2000),
    new StreamsUnavailable('it is stopping'),
    new ServiceUnavailable('PostgreSQL', undefined),
  ),
  500: CommonErrors[500],
};

const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  // nginx buffers responses by default, which would hold the messages back.
  'x-accel-buffering': 'no',
};

/**
 * `GET /orders/:id/events`: the order as server-sent events, from any replica (see
 * services/order-followers.ts). The id is checked and the order read before the stream starts, so an
 * unknown or malformed id is the same 404 or 400 as GET /orders/{id}.
 */
export function orderEventsRoutes({ log, config, metrics, orderFollowers }: AppDeps) {
  return new Elysia().use(requestContext(log, metrics)).get(
    '/orders/:id/events',
    async ({ params, headers, request, server }) => {
      if (!orderFollowers) throw new StreamsUnavailable('it runs without them');
      const stream = createEventStreamBody();
      stream.open(`order ${params.id}`);
      const masked = !isAdmin(request, config.adminToken);
      const following = await orderFollowers.follow(params.id, { masked, lastEventId: headers['last-event-id'] }, stream.sink);
      // Finished, and the client has its last state: per the HTML standard, a 204 stops an EventSource from reconnecting.
      if (!following) return new Response(null, { status: 204 });
      stream.whenGone(following.leave);
      // The server closes a connection idle for its idleTimeout (Elysia sets 30 s); a stream is quiet for up to SSE_KEEP_ALIVE_MS, which may be longer.
      server?.timeout(request, 0);
      return new Response(stream.body, { headers: EVENT_STREAM_HEADERS });
    },
    {
      params: OrderIdParams,
      headers: OrderEventsHeaders,
      detail: {
        tags: ['orders'],
        summary: 'Follow an order live (server-sent events)',
        responses: {
          200: { description: 'The order, then each change of it, as server-sent events', content: { 'text/event-stream': { schema: OrderEventStream } } },
          204: { description: 'The order is finished and the Last-Event-ID sent is its last state: nothing more will come' },
          ...openApiResponses(errors),
          503: { ...openApiResponses(errors)[503]!, headers: { 'retry-after': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } } } },
        },
        description:
          'Every message is the whole order exactly as `GET /orders/{id}` answers it (the e-mail masked unless the request carries the admin token), with an `id:` naming that state: ' +
          'the current state first, then one message per change (payment outcome, each delivery). Reconnecting with `Last-Event-ID` sends only what the client does not have. ' +
          'A `:` comment every SSE_KEEP_ALIVE_MS keeps proxies from closing the connection; the stream ends after the order\'s last change. ' +
          'Any API replica serves any order. `503 too_many_streams` (with `Retry-After`) past SSE_MAX_CONNECTIONS streams on one replica. ' +
          'In a browser: `new EventSource(`/orders/${id}/events`).onmessage = (e) => show(JSON.parse(e.data))`.',
        security: [{}, { bearer: [] }],
      },
    },
  );
}
