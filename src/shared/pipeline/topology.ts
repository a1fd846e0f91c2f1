/**
 * The pipeline's one topology table. An order travels:
 *
 *   POST /orders -> outbox -> orders.placed -> payment-service -> outbox -> payment.completed -> notification-service
 *
 * Each event type travels on one stream, is read by one consumer group, and what that group cannot
 * process ends in its dead-letter stream. Workers, `bun run streams`, `bun run dlq`, /ops, /metrics
 * and the admin routes' enums all derive from this table; nothing else spells these names.
 */
export const TOPOLOGY = {
  OrderPlaced: { stream: 'orders.placed', group: 'payment-service', deadLetterStream: 'payment.dlq', consumer: 'payment' },
  PaymentCompleted: { stream: 'payment.completed', group: 'notification-service', deadLetterStream: 'notify.dlq', consumer: 'notify' },
} as const;

export type EventType = keyof typeof TOPOLOGY;
export type Route = (typeof TOPOLOGY)[EventType] & { eventType: EventType };
export type DeadLetterStream = Route['deadLetterStream'];

/** The table as a list, in the order an order travels. */
export const ROUTES: readonly Route[] = (Object.keys(TOPOLOGY) as EventType[]).map((eventType) => ({ eventType, ...TOPOLOGY[eventType] }));

export const DEAD_LETTER_STREAMS = ROUTES.map((route) => route.deadLetterStream) as [DeadLetterStream, ...DeadLetterStream[]];

export function isDeadLetterStream(name: string): name is DeadLetterStream {
  return (DEAD_LETTER_STREAMS as string[]).includes(name);
}

/** The Redis key of a logical stream in this deployment (STREAM_PREFIX + name). */
export function streamKey(prefix: string, stream: string): string {
  return `${prefix}${stream}`;
}
