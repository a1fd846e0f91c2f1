import type { TObject } from '@sinclair/typebox';
import { t } from 'elysia';
import type { AppError } from '../../shared/runtime/app-error.ts';
import { InternalError, ServiceUnavailable } from '../errors/domain.ts';
import { statusOf } from '../errors/status.ts';

/** The one error shape every 4xx and 5xx uses. */
export const ErrorBody = t.Object(
  {
    error: t.Object({
      code: t.String({ description: 'Stable, machine-readable error code' }),
      message: t.String({ description: 'Human-readable explanation' }),
      requestId: t.String({ description: 'The X-Request-ID of this request; quote it when reporting a problem' }),
      details: t.Optional(t.Unknown({ description: 'Extra context, e.g. the failing fields of a validation error' })),
    }),
  },
  { description: 'Error' },
);
export type ErrorBody = typeof ErrorBody.static;

const EXAMPLE_REQUEST_ID = '0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11';

/**
 * The documented error responses of a route, built from instances of the errors it can answer:
 * each goes under its status from the status table, as an example with its real code and message,
 * so the docs cannot drift from the classes.
 */
export function errorResponses(...errors: AppError[]): Record<number, TObject> {
  const byStatus = new Map<number, AppError[]>();
  for (const error of errors) {
    const status = statusOf(error);
    if (status === undefined) throw new Error(`${error.code} has no HTTP status in src/api/errors/status.ts`);
    byStatus.set(status, [...(byStatus.get(status) ?? []), error]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, group]) => [
      status,
      t.Object(ErrorBody.properties, {
        description: group.map((error) => `\`${error.code}\`: ${error.message}`).join('; '),
        examples: group.map((error) => ({
          error: { code: error.code, message: error.message, requestId: EXAMPLE_REQUEST_ID, ...(error.details !== undefined ? { details: error.details } : {}) },
        })),
      }),
    ]),
  );
}

/** What any route may answer: a bug (500), or PostgreSQL out of reach (503). */
export const CommonErrors = {
  500: errorResponses(new InternalError())[500]!,
  503: errorResponses(new ServiceUnavailable('PostgreSQL', undefined))[503]!,
};
