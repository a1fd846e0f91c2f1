/**
 * The pipeline's one topology table. An order travels:
 *
 *   POST /orders -> outbox -> orders.placed -> payment-service -> outbox -> payment.completed -> notify-email   (the customer)
 *                                                                                            \-> notify-webhook (the restaurant)
 *
 * Each event type travels on one stream (EVENT_STREAMS). Each route is one consumer group reading
 * one stream, on its own: its own position, retries and dead-letter stream, so a channel that is
 * failing (a restaurant's endpoint down for a day) never holds up another (the customer's e-mail).
 * A stream's only route is named after its event; `payment.completed` has one route per channel.
 * Workers, `bun run streams`, `bun run dlq`, /ops, /metrics and the admin routes' enums all derive from
 * this table; nothing else spells these names.
 */
export const EVENT_STREAMS = {
  OrderPlaced: 'orders.placed',
  PaymentCompleted: 'payment.completed',
} as const;

export const TOPOLOGY = {
  OrderPlaced: { eventType: 'OrderPlaced', stream: EVENT_STREAMS.OrderPlaced, group: 'payment-service', deadLetterStream: 'payment.dlq', consumer: 'payment' },
  CustomerEmail: { eventType: 'PaymentCompleted', stream: EVENT_STREAMS.PaymentCompleted, group: 'notify-email', deadLetterStream: 'notify.dlq', consumer: 'notify' },
  RestaurantWebhook: { eventType: 'PaymentCompleted', stream: EVENT_STREAMS.PaymentCompleted, group: 'notify-webhook', deadLetterStream: 'webhook.dlq', consumer: 'notify' },
} as const;

export type EventType = keyof typeof EVENT_STREAMS;
export type RouteName = keyof typeof TOPOLOGY;
export type Route = (typeof TOPOLOGY)[RouteName] & { name: RouteName };
export type DeadLetterStream = Route['deadLetterStream'];

/** The table as a list, in the order an order travels. */
export const ROUTES: readonly Route[] = (Object.keys(TOPOLOGY) as RouteName[]).map((name) => ({ name, ...TOPOLOGY[name] }));

/** Every stream once, in the order an order travels. */
export const STREAMS: readonly string[] = Object.values(EVENT_STREAMS);

export const DEAD_LETTER_STREAMS = ROUTES.map((route) => route.deadLetterStream) as [DeadLetterStream, ...DeadLetterStream[]];

export function isDeadLetterStream(name: string): name is DeadLetterStream {
  return (DEAD_LETTER_STREAMS as string[]).includes(name);
}

/**
 * The Redis key of a logical stream in this deployment: STREAM_PREFIX + name, and with several
 * partitions `:{p}`. The braces are a Redis Cluster hash tag: every key of partition p (each
 * stream's partition p, its consumer groups, its dead-letter stream) hashes to the same slot, so a
 * dead-letter MULTI (XADD to the dead-letter stream, XACK on the stream) stays on one node.
 */
export function streamKey(prefix: string, stream: string, partition?: number): string {
  return partition === undefined ? `${prefix}${stream}` : `${prefix}${stream}:{${partition}}`;
}

/** Every partition of a stream: one plain key (partition null) when STREAM_PARTITIONS is 1. */
export function partitionKeys(prefix: string, stream: string, count: number, only?: readonly number[]): { partition: number | null; key: string }[] {
  if (count <= 1) return [{ partition: null, key: streamKey(prefix, stream) }];
  return (only ?? Array.from({ length: count }, (_, i) => i)).map((partition) => ({ partition, key: streamKey(prefix, stream, partition) }));
}

/**
 * The partition an order's events travel on: FNV-1a of its id, modulo the count. Stable across
 * processes and restarts, so all of one order's events land on one partition, in order.
 */
export function partitionOf(orderId: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < orderId.length; i++) {
    hash ^= orderId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/** The key an order's event on `stream` is published to. */
export function keyForOrder(prefix: string, stream: string, orderId: string, count: number): string {
  return count <= 1 ? streamKey(prefix, stream) : streamKey(prefix, stream, partitionOf(orderId, count));
}
