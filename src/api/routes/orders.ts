import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import {
  IdempotencyKeyInProgress,
  IdempotencyKeyReused,
  InvalidIdempotencyKey,
  MalformedJson,
  MenuItemNotFound,
  MenuItemUnavailable,
  OrderNotFound,
  PayloadTooLarge,
  PaymentMethodRequired,
  UnsupportedMediaType,
  ValidationFailed,
} from '../errors/domain.ts';
import { CommonErrors, errorResponses } from '../models/error.ts';
import { ORDER_ID_PATTERN, OrderIdParams, OrderView, PlaceOrderBody, PlaceOrderHeaders } from '../models/order.ts';
import { isAdmin } from '../plugins/admin-auth.ts';
import { jsonBody } from '../plugins/json-body.ts';
import { requestContext } from '../plugins/request-context.ts';
import { openApiResponses } from '../openapi.ts';
import { createOrderReads } from '../services/get-order.ts';
import { keyTiming, parseIdempotencyKey } from '../services/idempotency.ts';
import { withMaskedEmail } from '../services/order-view.ts';
import { placeOrder } from '../services/place-order.ts';

const EXAMPLE_ID = '0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11';

const placeOrderResponses = {
  201: OrderView,
  ...errorResponses(
    new MalformedJson(undefined),
    new InvalidIdempotencyKey('Idempotency-Key may only contain visible ASCII characters'),
    new IdempotencyKeyInProgress(),
    new PayloadTooLarge(65_536),
    new UnsupportedMediaType('text/plain'),
    new ValidationFailed('Invalid request body: /items/0/quantity Expected integer to be less or equal to 50', [
      { field: '/items/0/quantity', message: 'Expected integer to be less or equal to 50' },
    ]),
    new MenuItemNotFound([99]),
    new MenuItemUnavailable([{ id: 5, name: 'Caesar Salad' }]),
    new IdempotencyKeyReused(),
    new PaymentMethodRequired(),
  ),
  ...CommonErrors,
};

const getOrderResponses = {
  200: OrderView,
  ...errorResponses(
    new ValidationFailed(`Invalid params: /id Expected string to match '${ORDER_ID_PATTERN}'`, [{ field: '/id', message: `Expected string to match '${ORDER_ID_PATTERN}'` }], 'params'),
    new OrderNotFound(EXAMPLE_ID),
  ),
  ...CommonErrors,
};

export function ordersRoutes({ db, log, config, outbox, metrics }: AppDeps) {
  const timing = keyTiming(config.statementTimeoutMs);
  const reads = createOrderReads(db);
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
          timing,
          retry: config.dbRetry,
          outbox,
          reads,
          paymentMethodRequired: config.paymentMethodRequired,
        });
        if (!result.replayed) {
          outbox.kick();
          metrics.ordersCreated.inc();
        }
        set.headers.location = `/orders/${result.body.id}`;
        log.info({ order_id: result.body.id, replayed: result.replayed, total_cents: result.body.totalCents }, 'order placed');
        if (!result.replayed) return status(201, result.body);
        // The stored reply goes out as stored, in a raw Response, which Elysia does not validate: a
        // reply stored before OrderView changed is still the reply this key was given, and must
        // neither fail validation nor lose fields to it.
        set.status = result.status;
        return new Response(JSON.stringify(result.body), {
          status: result.status,
          headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' },
        });
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
    .get(
      '/orders/:id',
      async ({ params, request }) => {
        const order = await reads.getOrder(params.id, config.dbRetry);
        return isAdmin(request, config.adminToken) ? order : withMaskedEmail(order);
      },
      {
        params: OrderIdParams,
        response: getOrderResponses,
        detail: {
          tags: ['orders'],
          summary: 'Read an order',
          responses: openApiResponses(getOrderResponses),
          description:
            'The order with its items and its payment outcome (`payment` is null until the payment worker records one). ' +
            'Anyone who knows the id may read it, so `customerEmail` is masked (`a***@example.com`) unless the request carries ' +
            '`Authorization: Bearer <ADMIN_TOKEN>`; the client that placed the order has the address in its 201.',
          // The token is optional here: it only decides whether the e-mail is masked.
          security: [{}, { bearer: [] }],
        },
      },
    );
}
