import type { TSchema } from '@sinclair/typebox';

/**
 * Turns a route's `response` map (status -> schema, which Elysia validates against) into
 * OpenAPI response objects for `detail.responses`, so the docs are generated from the very
 * schemas the route enforces. @elysiajs/swagger's own rendering copies schema keywords onto
 * the response object, which OpenAPI forbids.
 */
export function openApiResponses(responses: Record<number, TSchema>) {
  return Object.fromEntries(
    Object.entries(responses).map(([status, schema]) => [
      status,
      {
        description: schema.description ?? defaultDescription(Number(status)),
        content: { 'application/json': { schema } },
      },
    ]),
  );
}

function defaultDescription(status: number): string {
  if (status < 300) return 'Success';
  return status < 500 ? 'Client error' : 'Server error';
}
