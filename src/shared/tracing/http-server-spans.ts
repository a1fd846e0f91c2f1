import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_URL_PATH, ATTR_URL_SCHEME } from '@opentelemetry/semantic-conventions';
import { markFailed } from './producer-spans.ts';
import type { Tracing } from './tracing.ts';

const propagator = new W3CTraceContextPropagator();
const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/**
 * Handles a request inside a SERVER span that continues the caller's W3C `traceparent` (and
 * `tracestate`), or starts a trace. Named `<METHOD>` until the router knows the route
 * (nameServerSpan), then `<METHOD> <route>`; a 5xx answer or a throw marks it failed, a 4xx does not
 * (the server did its job), as the HTTP conventions say.
 */
export async function traceServerRequest(tracing: Tracing, request: Request, handle: (request: Request) => Response | Promise<Response>): Promise<Response> {
  const url = new URL(request.url);
  const parent = propagator.extract(ROOT_CONTEXT, request.headers, headerGetter);
  const span = tracing.tracer.startSpan(
    request.method,
    {
      kind: SpanKind.SERVER,
      attributes: { [ATTR_HTTP_REQUEST_METHOD]: request.method, [ATTR_URL_PATH]: url.pathname, [ATTR_URL_SCHEME]: url.protocol.replace(/:$/, '') },
    },
    parent,
  );
  try {
    const response = await context.with(trace.setSpan(parent, span), () => handle(request));
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.status);
    if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    return response;
  } catch (error) {
    markFailed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Names the active server span after the matched route (`POST /orders`, `GET /orders/:id`): low cardinality, unlike the path. */
export function nameServerSpan(method: string, route: string): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  span.updateName(`${method} ${route}`);
  span.setAttribute(ATTR_HTTP_ROUTE, route);
}
