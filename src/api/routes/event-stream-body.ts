import type { FollowerSink } from '../services/order-followers.ts';

/**
 * Messages a client may leave unread before its stream is closed: one that stops reading (a phone
 * asleep with the socket open) costs at most this many states in memory, then reconnects with its
 * Last-Event-ID and gets the current one.
 */
const MAX_UNREAD = 64;

const encoder = new TextEncoder();

/**
 * The body of a `text/event-stream` response, written by a follower's sink in the format of the HTML
 * standard's server-sent events: `id:` and `data:` lines per message (the JSON has no newline in it),
 * `:` comment lines to keep the connection busy. Elysia's own `sse()` writes only messages, no comments.
 */
export function createEventStreamBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let gone = false;
  let onGone: (() => void) | undefined;

  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      // The client went away (Bun cancels the body of a response whose connection closed).
      cancel: () => finish(false),
    },
    { highWaterMark: MAX_UNREAD },
  );

  function finish(close: boolean) {
    if (gone) return;
    gone = true;
    if (close) controller.close();
    onGone?.();
  }

  function write(text: string) {
    if (gone) return;
    if ((controller.desiredSize ?? 0) <= 0) return finish(true);
    controller.enqueue(encoder.encode(text));
  }

  const sink: FollowerSink = {
    state: (id, data) => write(`id: ${id}\ndata: ${data}\n\n`),
    keepAlive: () => write(': keep-alive\n\n'),
    end: () => finish(true),
  };

  return {
    body,
    sink,
    /** A comment line, written first so the client sees the stream open even when it has nothing to receive yet. */
    open: (comment: string) => write(`: ${comment}\n\n`),
    /** Runs `callback` once the stream is over, for whatever reason (at once if it is). */
    whenGone(callback: () => void) {
      if (gone) callback();
      else onGone = callback;
    },
  };
}
