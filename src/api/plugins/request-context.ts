import { Elysia } from 'elysia';
import type { Logger } from '../../shared/runtime/log.ts';
import type { ApiMetrics } from '../metrics.ts';

export const REQUEST_ID_HEADER = 'x-request-id';

// A client's id is echoed only when it cannot smuggle anything into logs or headers.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function pickRequestId(incoming: string | null, generate: () => string = () => crypto.randomUUID()) {
  return incoming && SANE_REQUEST_ID.test(incoming) ? incoming : generate();
}

/** The request id as the response will carry it; set in onRequest, so it exists even for errors raised before routing. */
export function requestIdOf(set: { headers: Record<string, unknown> }): string {
  return String(set.headers[REQUEST_ID_HEADER] ?? 'unknown');
}

/**
 * Gives every request an id (the client's X-Request-ID if sane, else a UUID), echoes it on the
 * response, hands handlers a child logger that stamps it on every line, and writes one access log
 * line and the HTTP metrics.
 */
export function requestContext(log: Logger, metrics: Pick<ApiMetrics, 'httpRequests' | 'httpDuration'>) {
  const started = new WeakMap<Request, number>();
  return new Elysia({ name: 'request-context' })
    .onRequest(({ request, set }) => {
      started.set(request, performance.now());
      set.headers[REQUEST_ID_HEADER] = pickRequestId(request.headers.get(REQUEST_ID_HEADER));
    })
    .resolve({ as: 'global' }, ({ set }) => {
      const requestId = requestIdOf(set);
      return { requestId, log: log.child({ request_id: requestId }) };
    })
    .onAfterResponse({ as: 'global' }, ({ request, set, path, route }) => {
      const start = started.get(request);
      const seconds = start === undefined ? 0 : (performance.now() - start) / 1000;
      // The route pattern (/orders/:id), never the raw path, so ids do not explode the label count.
      const labels = { method: request.method, route: route || 'unmatched', status: String(set.status ?? 200) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      log.info(
        { request_id: requestIdOf(set), method: request.method, path, status: set.status, duration_ms: Math.round(seconds * 100_000) / 100 },
        'request completed',
      );
    });
}
