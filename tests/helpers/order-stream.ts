import { createParser } from 'eventsource-parser';
import type { OrderView } from '../../src/api/models/order.ts';
import { waitFor } from './wait-for.ts';

export interface OrderMessage {
  id: string;
  order: OrderView;
  /** When it was parsed here (Date.now()). */
  at: number;
}

/**
 * A client of GET /orders/{id}/events that keeps everything it receives: the response, each message
 * (parsed by eventsource-parser, as a browser's EventSource would), each comment, and whether the
 * server ended the stream. `request` is what to fetch (an in-process app's `handle` or `fetch`).
 */
export async function openOrderStream(url: string, { lastEventId, headers = {}, request = fetch }: { lastEventId?: string; headers?: Record<string, string>; request?: (request: Request) => Promise<Response> } = {}) {
  const abort = new AbortController();
  const response = await request(
    new Request(url, { headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}), ...headers }, signal: abort.signal }),
  );
  const messages: OrderMessage[] = [];
  const comments: string[] = [];
  const state = { ended: false, closedByUs: false, error: undefined as unknown };
  const parser = createParser({
    onEvent: (event) => messages.push({ id: event.id!, order: JSON.parse(event.data), at: Date.now() }),
    onComment: (comment) => comments.push(comment.trim()),
  });
  const isStream = response.status === 200 && response.headers.get('content-type')?.startsWith('text/event-stream');
  const reader = isStream && response.body ? response.body.pipeThrough(new TextDecoderStream()).getReader() : undefined;
  const done = (async () => {
    if (!reader) return;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
      state.ended = true;
    } catch (error) {
      // Our own abort ends the read with an error; anything else is the test's to see.
      if (!state.closedByUs) state.error = error;
    }
  })();

  return {
    response,
    messages,
    comments,
    /** The server ended the stream. */
    get ended() {
      return state.ended;
    },
    get error() {
      return state.error;
    },
    /** Waits until `count` messages arrived. */
    async waitForMessages(count: number, timeoutMs = 15_000) {
      await waitFor(() => messages.length >= count || state.error, { what: `${count} message(s) on ${url}`, timeoutMs });
      if (state.error) throw state.error;
      return messages;
    },
    /** Waits until the server ends the stream. */
    async waitForEnd(timeoutMs = 15_000) {
      await waitFor(() => state.ended || state.error, { what: `the end of ${url}`, timeoutMs });
      if (state.error) throw state.error;
      return messages;
    },
    /** Leaves, as a client that closes the tab. */
    async close() {
      state.closedByUs = true;
      // Aborting the request ends a real connection; cancelling the body is what leaving looks like in-process.
      abort.abort();
      await reader?.cancel().catch(() => undefined);
      await done;
    },
  };
}

export type OrderStream = Awaited<ReturnType<typeof openOrderStream>>;
