import type { DeliveryChannel } from '../../shared/db/schema.ts';
import type { OrderView } from '../models/order.ts';

export interface TellingPolicy {
  /** ORDER_WEBHOOK_URL is set: the notify worker tells the restaurant about every paid order too. */
  restaurantWebhook: boolean;
}

/**
 * The channels an order's outcome is told on once it has one: the customer's e-mail always, the
 * restaurant's webhook for a paid order when one is configured (the rule of the notify worker's
 * channels, `appliesTo` in src/notify/email/ and src/notify/webhook/). A new channel is a line here.
 */
export function channelsTold(view: Pick<OrderView, 'payment'>, { restaurantWebhook }: TellingPolicy): DeliveryChannel[] {
  if (view.payment === null) return [];
  return view.payment.outcome === 'succeeded' && restaurantWebhook ? ['email', 'webhook'] : ['email'];
}

/**
 * Whether nothing more will change on the order: its payment outcome is recorded and every channel it
 * is told on has a delivery that is `sent` or `failed` for good. A delivery is only listed from the
 * moment a channel read the order's outcome, so a channel with no delivery yet is still to come.
 */
export function isOrderFinished(view: Pick<OrderView, 'payment' | 'deliveries'>, policy: TellingPolicy): boolean {
  if (view.payment === null) return false;
  return channelsTold(view, policy).every((channel) => view.deliveries.some((delivery) => delivery.channel === channel && delivery.status !== 'pending'));
}
