import { StripeApiError } from '../errors.ts';

/** An answer before it becomes a Response: what an idempotency key saves and replays. */
export interface Reply {
  status: number;
  /** The JSON text, exactly as sent (a replay sends the same bytes). */
  body: string;
  headers: Record<string, string>;
}

export const okReply = (object: unknown): Reply => ({ status: 200, body: JSON.stringify(object), headers: {} });

/** Stripe's error body, linked to this request's log entry as Stripe's are. */
export function errorReply(error: StripeApiError, requestId: string): Reply {
  const body = { error: { ...error.body, request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}` } };
  return { status: error.status, body: JSON.stringify(body), headers: error.headers };
}

export function toResponse(reply: Reply, headers: Record<string, string>): Response {
  return new Response(reply.body, {
    status: reply.status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, no-store', ...headers, ...reply.headers },
  });
}

/**
 * A reply that never comes: the connection is reset before a byte of it is sent, so the client
 * sees a network error (ECONNRESET) while the change it asked for has been made.
 * (An errored body stream is how Bun.serve lets a handler abort its connection.)
 */
export function droppedConnection(): Response {
  return new Response(
    new ReadableStream({
      start(controller) {
        controller.error();
      },
    }),
  );
}
