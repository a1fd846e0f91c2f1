import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { CommonErrors, errorResponse } from '../models/error.ts';
import { OrderIdParams, OrderView, PlaceOrderBody, PlaceOrderHeaders } from '../models/order.ts';
import { jsonBody } from '../plugins/json-body.ts';
import { requestContext } from '../plugins/request-context.ts';
import { openApiResponses } from '../openapi.ts';
import { getOrder } from '../services/get-order.ts';
import { parseIdempotencyKey } from '../services/idempotency.ts';
import { placeOrder } from '../services/place-order.ts';

const placeOrderResponses = {
  201: OrderView,
  400: errorResponse('malformed_json', 'The body is not valid JSON, or the Idempotency-Key header is invalid (invalid_idempotency_key)'),
  409: errorResponse('idempotency_key_in_progress', 'A request with this Idempotency-Key is still being processed; retry shortly'),
  413: errorResponse('payload_too_large', 'The request body is larger than the limit (BODY_LIMIT_BYTES)'),
  415: errorResponse('unsupported_media_type', 'Expected Content-Type application/json'),
  422: errorResponse(
    'validation_failed',
    'The body does not describe a valid order: validation_failed, menu_item_not_found, menu_item_unavailable, or idempotency_key_reused',
    [{ field: '/items/0/quantity', message: 'Expected integer to be less or equal to 50' }],
  ),
  ...CommonErrors,
};

const getOrderResponses = {
  200: OrderView,
  400: errorResponse('validation_failed', 'The id is not a UUID'),
  404: errorResponse('order_not_found', 'No order with this id'),
  ...CommonErrors,
};

export function ordersRoutes({ db, log, config, outbox, metrics }: AppDeps) {
  return new Elysia()
    .use(requestContext(log, metrics))
    .use(jsonBody(config.bodyLimitBytes))
    .post(
      '/orders',
      async ({ body, headers, requestId, log, set, status }) => {
        const key = parseIdempotencyKey(headers['idempotency-key']);
        const result = await placeOrder(db, body, {
          requestId,
          idempotency: key
            ? { key, ttlHours: config.idempotencyKeyTtlHours, waitMs: config.idempotencyWaitMs }
            : undefined,
        });
        if (!result.replayed) {
          outbox.kick();
          metrics.ordersCreated.inc();
        }
        set.headers.location = `/orders/${result.body.id}`;
        if (result.replayed) set.headers['idempotent-replayed'] = 'true';
        log.info({ order_id: result.body.id, replayed: result.replayed, total_cents: result.body.totalCents }, 'order placed');
        return status(201, result.body);
      },
      {
        // Documents the content type; the jsonBody plugin's parser runs first and enforces it.
        parse: 'application/json',
        body: PlaceOrderBody,
        headers: PlaceOrderHeaders,
        response: placeOrderResponses,
        detail: {
          tags: ['orders'],
          summary: 'Place an order',
          responses: openApiResponses(placeOrderResponses),
          description:
            'Creates an order in status `processing` and answers at once; payment happens asynchronously. ' +
            'The total is computed by the server from current menu prices. Send an `Idempotency-Key` to make retries safe: ' +
            'the same key and body replay the first response (with `Idempotent-Replayed: true`), a different body is a 422.',
        },
      },
    )
    .get('/orders/:id', ({ params }) => getOrder(db, params.id), {
      params: OrderIdParams,
      response: getOrderResponses,
      detail: {
        tags: ['orders'],
        summary: 'Read an order',
        responses: openApiResponses(getOrderResponses),
        description: 'The order with its items and its payment outcome (`payment` is null until the payment worker records one).',
      },
    });
}
