import { t } from 'elysia';

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

/** The documented response for one error status, with an example of its body. */
export function errorResponse(code: string, message: string, details?: unknown) {
  return t.Object(ErrorBody.properties, {
    description: message,
    examples: [{ error: { code, message, requestId: '0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11', ...(details ? { details } : {}) } }],
  });
}

export const CommonErrors = {
  500: errorResponse('internal_error', 'Unexpected server error; the request id is in the logs'),
  503: errorResponse('service_unavailable', 'PostgreSQL is not reachable; try again shortly'),
};
