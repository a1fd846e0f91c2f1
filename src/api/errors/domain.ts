import { AppError } from '../../shared/runtime/app-error.ts';

/**
 * Every failure the API expects, each with a stable `code` and no HTTP status: statuses live in
 * one table (./status.ts), and the OpenAPI examples are built from these classes (./openapi.ts).
 */

export class OrderNotFound extends AppError {
  readonly code = 'order_not_found';
  constructor(orderId: string) {
    super(`No order with id ${orderId}`);
  }
}

export class RouteNotFound extends AppError {
  readonly code = 'route_not_found';
  constructor(method: string, path: string) {
    super(`No route for ${method} ${path}`);
  }
}

export class MenuItemNotFound extends AppError {
  readonly code = 'menu_item_not_found';
  constructor(menuItemIds: number[]) {
    super(`Unknown menu item${menuItemIds.length > 1 ? 's' : ''}: ${menuItemIds.join(', ')}`, {
      details: { menuItemIds },
    });
  }
}

export class MenuItemUnavailable extends AppError {
  readonly code = 'menu_item_unavailable';
  constructor(items: { id: number; name: string }[]) {
    super(`Not available right now: ${items.map((item) => item.name).join(', ')}`, {
      details: { menuItemIds: items.map((item) => item.id) },
    });
  }
}

/** Which part of the request failed validation: a bad body is unprocessable (422), anything else malformed (400). */
export type RequestPart = 'body' | 'params' | 'query' | 'headers';

export class ValidationFailed extends AppError {
  readonly code = 'validation_failed';
  constructor(
    message: string,
    details: unknown,
    readonly part: RequestPart = 'body',
  ) {
    super(message, { details });
  }
}

/** A live provider key charges real cards: no test card may stand in for one the order did not name. */
export class PaymentMethodRequired extends AppError {
  readonly code = 'payment_method_required';
  constructor() {
    super('paymentMethodId is required: the payment provider is in live mode, so no test card stands in');
  }
}

/** A provider webhook whose signature is missing, wrong, or too old: nothing was changed. */
export class InvalidWebhookSignature extends AppError {
  readonly code = 'invalid_webhook_signature';
  constructor(reason: string) {
    super(`Webhook signature refused: ${reason}`);
  }
}

export class MalformedJson extends AppError {
  readonly code = 'malformed_json';
  constructor(cause: unknown) {
    super('The request body is not valid JSON', { cause });
  }
}

export class PayloadTooLarge extends AppError {
  readonly code = 'payload_too_large';
  constructor(limitBytes: number) {
    super(`The request body is larger than ${limitBytes} bytes`);
  }
}

export class UnsupportedMediaType extends AppError {
  readonly code = 'unsupported_media_type';
  constructor(contentType: string | null) {
    super(`Expected Content-Type application/json, got ${contentType ? JSON.stringify(contentType) : 'none'}`);
  }
}

export class InvalidIdempotencyKey extends AppError {
  readonly code = 'invalid_idempotency_key';
}

export class IdempotencyKeyReused extends AppError {
  readonly code = 'idempotency_key_reused';
  constructor() {
    super('This Idempotency-Key was already used with a different request body');
  }
}

export class IdempotencyKeyInProgress extends AppError {
  readonly code = 'idempotency_key_in_progress';
  constructor() {
    super('A request with this Idempotency-Key is still being processed; retry shortly');
  }
}

export class ServiceUnavailable extends AppError {
  readonly code = 'service_unavailable';
  constructor(dependency: string, cause: unknown) {
    super(`${dependency} is not reachable; try again shortly`, { cause });
  }
}

/** This replica holds SSE_MAX_CONNECTIONS order event streams already: another replica, or this one shortly, takes the client. */
export class TooManyStreams extends AppError {
  readonly code = 'too_many_streams';
  constructor(limit: number) {
    super(`This API replica has ${limit} order event streams open already (SSE_MAX_CONNECTIONS); try again shortly`);
  }
}

/** This replica takes no order event stream now: it is stopping (or runs without them). */
export class StreamsUnavailable extends AppError {
  readonly code = 'streams_unavailable';
  constructor(reason: string) {
    super(`No order event streams on this API replica: ${reason}; try again shortly`);
  }
}

export class AdminDisabled extends AppError {
  readonly code = 'admin_disabled';
  constructor() {
    super('Admin endpoints are off: start the API with ADMIN_TOKEN set to use them');
  }
}

export class Unauthorized extends AppError {
  readonly code = 'unauthorized';
  constructor() {
    super('Send Authorization: Bearer <ADMIN_TOKEN>');
  }
}

/** The answer for a bug, so its code is documented like the others; `cause` is logged, never answered. */
export class InternalError extends AppError {
  readonly code = 'internal_error';
  constructor(cause?: unknown) {
    super('Internal server error', { cause });
  }
}
