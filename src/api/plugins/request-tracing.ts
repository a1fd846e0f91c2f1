import { Elysia } from 'elysia';
import { nameServerSpan, traceServerRequest } from '../../shared/tracing/http-server-spans.ts';
import type { Tracing } from '../../shared/tracing/tracing.ts';

// Probes and scrapes arrive every few seconds from machines; a trace each would bury the orders.
const UNTRACED = /^\/(health(\/|$)|metrics$)/;

/**
 * A SERVER span around every request but the probes and /metrics, continuing the caller's W3C
 * `traceparent`. It wraps the whole handler (Elysia's `wrap`), so everything the request does, its
 * log lines included, runs inside it. Nothing at all when tracing is off.
 */
export function requestTracing(tracing: Tracing | undefined) {
  const plugin = new Elysia({ name: 'request-tracing' });
  if (!tracing?.enabled) return plugin;
  return plugin
    .wrap((composed, request) => {
      // Elysia types the composed handler loosely; it takes the request and answers a Response.
      const handle = composed as unknown as (request: Request) => Response | Promise<Response>;
      return () => (UNTRACED.test(new URL(request.url).pathname) ? handle(request) : traceServerRequest(tracing, request, handle));
    })
    .onTransform({ as: 'global' }, ({ request, route }) => nameServerSpan(request.method, route));
}
