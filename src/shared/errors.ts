/**
 * Every failure the service expects has a class here with a stable `code`.
 * Only src/api/errors.ts turns them into HTTP responses; workers use the codes in logs.
 */
export abstract class AppError extends Error {
  abstract readonly code: string;
  /** HTTP status when the error reaches a client. */
  abstract readonly status: number;
  readonly details?: unknown;

  constructor(message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.details = options?.details;
  }
}

export class OrderNotFound extends AppError {
  readonly code = 'order_not_found';
  readonly status = 404;
  constructor(orderId: string) {
    super(`No order with id ${orderId}`);
  }
}

export class RouteNotFound extends AppError {
  readonly code = 'route_not_found';
  readonly status = 404;
  constructor(method: string, path: string) {
    super(`No route for ${method} ${path}`);
  }
}

export class MenuItemNotFound extends AppError {
  readonly code = 'menu_item_not_found';
  readonly status = 422;
  constructor(menuItemIds: number[]) {
    super(`Unknown menu item${menuItemIds.length > 1 ? 's' : ''}: ${menuItemIds.join(', ')}`, {
      details: { menuItemIds },
    });
  }
}

export class MenuItemUnavailable extends AppError {
  readonly code = 'menu_item_unavailable';
  readonly status = 422;
  constructor(items: { id: number; name: string }[]) {
    super(`Not available right now: ${items.map((item) => item.name).join(', ')}`, {
      details: { menuItemIds: items.map((item) => item.id) },
    });
  }
}

export class ValidationFailed extends AppError {
  readonly code = 'validation_failed';
  readonly status: number;
  constructor(message: string, details: unknown, status = 422) {
    super(message, { details });
    this.status = status;
  }
}

export class MalformedJson extends AppError {
  readonly code = 'malformed_json';
  readonly status = 400;
  constructor(cause: unknown) {
    super('The request body is not valid JSON', { cause });
  }
}

export class PayloadTooLarge extends AppError {
  readonly code = 'payload_too_large';
  readonly status = 413;
  constructor(limitBytes: number) {
    super(`The request body is larger than ${limitBytes} bytes`);
  }
}

export class UnsupportedMediaType extends AppError {
  readonly code = 'unsupported_media_type';
  readonly status = 415;
  constructor(contentType: string | null) {
    super(`Expected Content-Type application/json, got ${contentType ? JSON.stringify(contentType) : 'none'}`);
  }
}

export class InvalidIdempotencyKey extends AppError {
  readonly code = 'invalid_idempotency_key';
  readonly status = 400;
}

export class IdempotencyKeyReused extends AppError {
  readonly code = 'idempotency_key_reused';
  readonly status = 422;
  constructor() {
    super('This Idempotency-Key was already used with a different request body');
  }
}

export class IdempotencyKeyInProgress extends AppError {
  readonly code = 'idempotency_key_in_progress';
  readonly status = 409;
  constructor() {
    super('A request with this Idempotency-Key is still being processed; retry shortly');
  }
}

export class DependencyUnavailable extends AppError {
  readonly code = 'service_unavailable';
  readonly status = 503;
  constructor(dependency: string, cause: unknown) {
    super(`${dependency} is not reachable; try again shortly`, { cause });
  }
}

/** A stream entry that can never be processed (bad schema, unknown order): dead-lettered at once. */
export class PoisonMessage extends AppError {
  readonly code = 'poison_message';
  readonly status = 422;
}

/** The payment gateway failed in a way worth retrying (timeout, 5xx). */
export class GatewayTransientError extends AppError {
  readonly code = 'gateway_transient_error';
  readonly status = 503;
}

/** Every retry of a charge failed: the order waits in the stream for a later delivery. */
export class GatewayUnavailable extends AppError {
  readonly code = 'gateway_unavailable';
  readonly status = 503;
  constructor(attempts: number, cause: unknown) {
    super(`The payment gateway failed ${attempts} attempt(s) in a row`, { cause });
  }
}

/** The circuit breaker is open: no call to the gateway until its cooldown is over. */
export class CircuitOpen extends AppError {
  readonly code = 'circuit_open';
  readonly status = 503;
  constructor(waitMs: number) {
    super(`Circuit breaker open; next trial in ${waitMs} ms`);
  }
}

export class AdminDisabled extends AppError {
  readonly code = 'admin_disabled';
  readonly status = 403;
  constructor() {
    super('Admin endpoints are off: start the API with ADMIN_TOKEN set to use them');
  }
}

export class Unauthorized extends AppError {
  readonly code = 'unauthorized';
  readonly status = 401;
  constructor() {
    super('Send Authorization: Bearer <ADMIN_TOKEN>');
  }
}
