import type { ExecContext } from '../api/endpoint.ts';
import { malformedBody, rateLimited, serverError, StripeApiError, unrecognizedUrl } from '../errors.ts';
import type { FaultSwitch } from '../faults/fault-switch.ts';
import type { PerSecondLimit } from '../faults/rate-limiter.ts';
import { FormSyntaxError, parseForm, type FormParams } from '../form.ts';
import type { Idempotency, KeyCheck } from '../idempotency.ts';
import { newId } from '../ids.ts';
import type { SandboxLog } from '../log.ts';
import { checkApiKey } from './auth.ts';
import { droppedConnection, errorReply, okReply, toResponse, type Reply } from './reply.ts';
import type { RequestStats } from './request-stats.ts';
import type { Router } from './router.ts';

export interface ApiHandlerDeps {
  router: Router;
  faults: FaultSwitch;
  limit: PerSecondLimit;
  stats: RequestStats;
  idempotency: Idempotency;
  apiVersion: string;
  log: SandboxLog;
  now: () => number;
}

/** How long a confirm hit by the `processing` fault waits for its outcome when the rule names no delayMs. */
const DEFAULT_PROCESSING_DELAY_MS = 1000;

/**
 * One /v1 request, in the order Stripe's layers meet it:
 *   auth -> route -> rate limit (429 saves nothing) -> params -> idempotency key (replay, mismatch, 409)
 *   -> latency -> validation (saves nothing) -> 500 before the effect (saves nothing)
 *   -> the effect -> 500 after the effect -> the key saves the reply -> the reply, or a dropped connection.
 */
export function createApiHandler({ router, faults, limit, stats, idempotency, apiVersion, log, now }: ApiHandlerDeps) {
  return async function handleApiRequest(request: Request): Promise<Response> {
    const requestId = newId('req', 14);
    const url = new URL(request.url);
    const headers: Record<string, string> = { 'Request-Id': requestId, 'Stripe-Version': request.headers.get('stripe-version') ?? apiVersion };
    const answer = (reply: Reply) => toResponse(reply, headers);
    const fail = (error: StripeApiError) => answer(errorReply(error, requestId));
    let key: KeyCheck | undefined;
    try {
      checkApiKey(request.headers.get('authorization'));
      const route = router.match(request.method, url.pathname);
      if (!route) throw unrecognizedUrl(request.method, url.pathname);
      const { endpoint } = route;
      stats.count(endpoint.name, now());
      if (!limit.allow(faults.config.rateLimitPerS, now())) {
        stats.countRateLimited();
        throw rateLimited();
      }
      const limited = faults.draw('rate_limit', endpoint.name);
      if (limited) throw rateLimited(limited.retryAfterSeconds);

      const params = await readParams(request, url);
      const idempotencyKey = request.method === 'POST' ? request.headers.get('idempotency-key') : null;
      if (idempotencyKey !== null) {
        headers['Idempotency-Key'] = idempotencyKey;
        key = idempotency.begin(idempotencyKey, `${request.method} ${url.pathname}`, params);
      }
      await Bun.sleep(faults.latencyMs(endpoint.name));

      if (key?.kind === 'replay') {
        const { saved } = key;
        Object.assign(headers, { 'Idempotent-Replayed': 'true', 'Original-Request': saved.requestId });
        if (faults.draw('drop_after', endpoint.name)) return droppedConnection();
        return answer({ status: saved.status, body: saved.body, headers: {} });
      }

      const work = endpoint.prepare(params, route.path);
      if (faults.draw('error_before', endpoint.name)) throw serverError('500 before the effect');

      // From here the endpoint has begun: whatever it answers is what the key keeps.
      const context: ExecContext = {
        request: { id: requestId, idempotencyKey },
        processing: () => {
          const rule = faults.draw('processing', endpoint.name);
          return rule && { delayMs: rule.delayMs ?? DEFAULT_PROCESSING_DELAY_MS };
        },
      };
      let reply = execute(() => work(context), requestId, log);
      if (faults.draw('error_after', endpoint.name)) reply = errorReply(serverError('500 after the effect'), requestId);
      if (key?.kind === 'new') key.save(reply, requestId);
      key = undefined;
      if (faults.draw('drop_after', endpoint.name)) return droppedConnection();
      return answer(reply);
    } catch (error) {
      if (key?.kind === 'new') key.release();
      if (error instanceof StripeApiError) return fail(error);
      log.error({ err: error, request_id: requestId, path: url.pathname }, 'stripe-sandbox request failed');
      return fail(serverError('internal error'));
    }
  };
}

/** Runs the endpoint's work; its Stripe errors are its answer, and so is a 500 for anything else. */
function execute(work: () => unknown, requestId: string, log: SandboxLog): Reply {
  try {
    return okReply(work());
  } catch (error) {
    if (error instanceof StripeApiError) return errorReply(error, requestId);
    log.error({ err: error, request_id: requestId }, 'stripe-sandbox endpoint failed');
    return errorReply(serverError('internal error'), requestId);
  }
}

/** GET params come in the query string, POST params in the form body (Stripe v1 takes no JSON). */
async function readParams(request: Request, url: URL): Promise<FormParams> {
  try {
    return parseForm(request.method === 'GET' ? url.search.slice(1) : await request.text());
  } catch (error) {
    if (error instanceof FormSyntaxError) throw malformedBody(error.message);
    throw error;
  }
}
