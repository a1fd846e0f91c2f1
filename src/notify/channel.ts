import type { DeliveryChannel } from '../shared/db/schema.ts';
import type { OrderFacts } from './order-facts.ts';

/**
 * What one attempt came to, as the channel read the other side's answer: `sent` (an SMTP 250, an HTTP
 * 2xx), `deferred` (try again later: a 4xx, a refused connection, no answer in time), or `refused` (never:
 * an SMTP 5xx). `reply` is the other side's own words, kept as the delivery's last error.
 */
export type AttemptResult =
  | { kind: 'sent'; reply: string }
  | { kind: 'deferred'; reply: string; retryAfterMs?: number }
  | { kind: 'refused'; reply: string };

/**
 * A way of telling an order's outcome to someone: the port between the delivery flow (delivery-handler.ts),
 * which is the same for every channel, and the protocol of one (email/, webhook/).
 */
export interface Channel {
  name: DeliveryChannel;
  /** Whether this order is told on this channel at all: the restaurant hears of paid orders only. */
  appliesTo(order: OrderFacts): boolean;
  /** Who gets it, and the id the other side sees on every attempt (Message-ID, webhook-id). */
  address(order: OrderFacts): { recipient: string; messageId: string };
  /** One attempt. Resolves with what the other side answered; rejects only for a fault of ours. */
  send(order: OrderFacts): Promise<AttemptResult>;
  /** The longest one attempt can take, every wait included: an attempt holds its delivery's lease that long. */
  attemptTimeoutMs: number;
  /** Delays before each retry of a deferred delivery (the consumer's retry schedule). */
  retryScheduleMs: readonly number[];
}
