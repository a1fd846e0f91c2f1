import { Elysia, ValidationError } from 'elysia';
import { isTransientDbError } from '../../shared/db/connection-error.ts';
import { dataExceptionMessage, isDataException } from '../../shared/db/data-exception.ts';
import { AppError } from '../../shared/runtime/app-error.ts';
import type { Logger } from '../../shared/runtime/log.ts';
import type { ErrorBody } from '../models/error.ts';
import { requestIdOf } from '../plugins/request-context.ts';
import { InternalError, MalformedJson, RouteNotFound, ServiceUnavailable, ValidationFailed, type RequestPart } from './domain.ts';
import { statusOf } from './status.ts';

const RETRY_AFTER_SECONDS = 1;

/** Validation of the path, query or headers is a malformed request (400); of the body, an unprocessable one (422). */
function fromValidation(error: ValidationError): ValidationFailed {
  const details = error.all.map((issue) => ({
    field: 'path' in issue && issue.path ? issue.path : '/',
    message: 'summary' in issue && issue.summary ? issue.summary : issue.message,
  }));
  const part: RequestPart = error.type === 'body' ? 'body' : error.type === 'query' ? 'query' : error.type === 'headers' ? 'headers' : 'params';
  const where = part === 'body' ? 'request body' : error.type;
  const first = details[0];
  const message = first ? `Invalid ${where}: ${first.field} ${first.message}` : `Invalid ${where}`;
  return new ValidationFailed(message, details, part);
}

/**
 * A response that fails its own schema is the server's bug: a 500, logged with where it failed. Only
 * paths and messages go to the log; Elysia's error carries the whole response (customer data).
 */
function fromResponseValidation(error: ValidationError, request: Request, path: string): InternalError {
  const issues = error.all.map((issue) => `${'path' in issue && issue.path ? issue.path : '/'} ${'summary' in issue && issue.summary ? issue.summary : issue.message}`);
  return new InternalError(new Error(`The response to ${request.method} ${path} does not match its schema: ${issues.join('; ')}`));
}

/**
 * A value PostgreSQL refused (SQLSTATE class 22) came from the client: a malformed request, 400.
 * Which part of the request carried it is unknown here, so it is filed under the 400 parts.
 */
function fromDataException(error: unknown): ValidationFailed {
  const message = dataExceptionMessage(error);
  return new ValidationFailed(`Invalid value: ${message}`, [{ field: '/', message }], 'params');
}

/** Maps anything thrown in a request to an AppError, or null for a bug. */
export function toAppError(code: string | number, error: unknown, request: Request, path: string): AppError | null {
  // Elysia wraps whatever a body parser throws; our parser throws AppErrors.
  const cause = code === 'PARSE' && error instanceof Error ? error.cause : undefined;
  if (cause instanceof AppError) return cause;
  if (error instanceof AppError) return error;
  if (error instanceof ValidationError) return error.type === 'response' ? fromResponseValidation(error, request, path) : fromValidation(error);
  if (code === 'PARSE') return new MalformedJson(error);
  if (code === 'NOT_FOUND') return new RouteNotFound(request.method, path);
  // Whatever a request did not ride through itself (an admin route's statement, a statement timeout) is still an outage, never a 500.
  if (isTransientDbError(error)) return new ServiceUnavailable('PostgreSQL', error);
  if (isDataException(error)) return fromDataException(error);
  return null;
}

/**
 * The only place that knows the HTTP error shape: every failure becomes
 * `{ error: { code, message, requestId, details? } }` with its status; bugs are a 500 without a stack.
 */
export function errorHandler(log: Logger) {
  return new Elysia({ name: 'error-handler' }).onError({ as: 'global' }, ({ code, error, request, path, set }) => {
    const requestId = requestIdOf(set);
    const reqLog = log.child({ request_id: requestId });
    const known = toAppError(code, error, request, path);
    const status = known ? statusOf(known) : undefined;
    let body: ErrorBody;
    if (known && status !== undefined) {
      set.status = status;
      body = { error: { code: known.code, message: known.message, requestId } };
      if (known.details !== undefined) body.error.details = known.details;
      // An outage passes: tell clients (and their HTTP libraries) when to try again.
      if (status === 503) set.headers['retry-after'] = String(RETRY_AFTER_SECONDS);
      if (status >= 500) reqLog.error({ err: known.cause ?? known, code: known.code }, known.message);
      else reqLog.info({ code: known.code, status }, known.message);
    } else {
      const internal = new InternalError();
      set.status = 500;
      reqLog.error({ err: error }, 'unhandled error');
      body = { error: { code: internal.code, message: internal.message, requestId } };
    }
    set.headers['content-type'] = 'application/json; charset=utf-8';
    return JSON.stringify(body);
  });
}
