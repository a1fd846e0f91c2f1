import type { AppError } from '../../shared/runtime/app-error.ts';
import type { ValidationFailed } from './domain.ts';

/**
 * The one table from error code to HTTP status (Fastify keeps its codes the same way, in
 * lib/errors.js). Error classes carry a code and a message; only this file knows the status.
 * A code missing here is a bug and answers 500 (a test checks every class has a row).
 */
export const ERROR_STATUS = {
  malformed_json: 400,
  invalid_idempotency_key: 400,
  invalid_webhook_signature: 400,
  unknown_dead_letter_stream: 400,
  // A bad body is unprocessable; a bad path, query or header makes the request itself malformed.
  validation_failed: (error: AppError) => ((error as ValidationFailed).part === 'body' ? 422 : 400),
  unauthorized: 401,
  admin_disabled: 403,
  order_not_found: 404,
  route_not_found: 404,
  dead_letter_not_found: 404,
  idempotency_key_in_progress: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  menu_item_not_found: 422,
  menu_item_unavailable: 422,
  idempotency_key_reused: 422,
  payment_method_required: 422,
  internal_error: 500,
  service_unavailable: 503,
  too_many_streams: 503,
  streams_unavailable: 503,
} as const satisfies Record<string, number | ((error: AppError) => number)>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The HTTP status for an error, or undefined when its code has no row (then it is answered as a bug). */
export function statusOf(error: AppError): number | undefined {
  const entry = (ERROR_STATUS as Record<string, number | ((error: AppError) => number)>)[error.code];
  return typeof entry === 'function' ? entry(error) : entry;
}
