import { t } from 'elysia';
import { OrderView } from './order.ts';

export const OrderEventsHeaders = t.Object({
  'last-event-id': t.Optional(
    t.String({
      maxLength: 256,
      description:
        'The `id` of the last message the client received; browsers send it by themselves when they reconnect. That state is not sent again: the stream starts with the current state only if it differs, then goes on with each change',
    }),
  ),
});

const [exampleOrder] = OrderView.examples as [OrderView];

/** What a stream looks like on the wire, for the OpenAPI document: a comment, then one message per state. */
export const OrderEventStream = t.String({
  description:
    'Server-sent events (`text/event-stream`). Every message is `id: <state id>` and `data: <the order as GET /orders/{id} answers it, as JSON>`: the current state first, then one message each time the order changes. ' +
    'Lines starting with `:` are comments that keep the connection busy (every SSE_KEEP_ALIVE_MS). The stream ends after the order\'s last change (payment outcome recorded and every delivery `sent` or `failed`); ' +
    'a browser\'s EventSource then reconnects with that id and is answered 204, which stops it.',
  examples: [`: order ${exampleOrder.id}\n\nid: 1x8fq2b7k3m0d\ndata: ${JSON.stringify({ ...exampleOrder, customerEmail: 'a***@example.com' })}\n\n: keep-alive\n\n`],
});
