import type { Config } from '../shared/runtime/config.ts';
import type { MetricsRegistry } from '../shared/runtime/metrics.ts';
import { Events, type PaymentCompleted } from '../shared/pipeline/events.ts';
import type { RouteName } from '../shared/pipeline/topology.ts';
import { createOrderChanges } from '../shared/pipeline/order-changes.ts';
import type { WorkerDefinition } from '../shared/worker/run-worker.ts';
import type { Channel } from './channel.ts';
import { createDeliveryHandler } from './delivery-handler.ts';
import { createEmailChannel } from './email/email-channel.ts';
import { createSmtpMailer } from './email/smtp-mailer.ts';
import { createNotifyMetrics, type NotifyMetrics } from './metrics.ts';
import { createWebhookChannel } from './webhook/webhook-channel.ts';

/**
 * The notification worker: `payment.completed` in, the customer's e-mail and (when ORDER_WEBHOOK_URL
 * is set) the restaurant's webhook out. One worker per channel, each its own consumer group with its
 * own retry schedule, all in the one notify process: a restaurant endpoint that is down for a day
 * never holds up a customer's e-mail.
 */
export function notifyWorkers(config: Config): WorkerDefinition<PaymentCompleted>[] {
  // The channels share one set of metrics, registered once per process.
  let metrics: NotifyMetrics | undefined;
  const metricsOf = (registry: MetricsRegistry) => (metrics ??= createNotifyMetrics(registry));
  const { email, webhook } = config.notify;
  // Opened once, by the first worker set up: each worker sends on its own channel and registers the
  // others' deliveries (createDeliveryHandler's otherChannels).
  let opened: { channels: Channel[]; close: () => void } | undefined;
  const open = () => (opened ??= openChannels(config));

  const worker = (route: RouteName, retrySchedule: readonly number[], name: Channel['name']): WorkerDefinition<PaymentCompleted> => ({
    service: 'notify',
    config,
    defaultHealthPort: 3002,
    consumes: Events.paymentCompleted,
    route,
    logContext: (event) => ({ order_id: event.payload.orderId, request_id: event.requestId }),
    retrySchedule,
    setup({ db, redis, log, metrics: registry }) {
      const { channels, close } = open();
      const channel = channels.find((each) => each.name === name)!;
      return {
        handleBatch: createDeliveryHandler({
          db,
          log,
          channel,
          otherChannels: channels.filter((each) => each !== channel),
          metrics: metricsOf(registry),
          orderChanges: createOrderChanges({ redis, prefix: config.streamPrefix, log }),
        }),
        // The e-mail's worker owns the SMTP pool: every process runs it.
        stop: async () => (name === 'email' ? close() : undefined),
      };
    },
  });

  const workers = [worker('CustomerEmail', email.retryScheduleMs, 'email')];
  if (webhook) workers.push(worker('RestaurantWebhook', webhook.retryScheduleMs, 'webhook'));
  return workers;
}

/** The customer's e-mail always; the restaurant's webhook when ORDER_WEBHOOK_URL is set. */
function openChannels(config: Config): { channels: Channel[]; close: () => void } {
  const { email, webhook } = config.notify;
  const currency = config.payment.currency;
  const mailer = createSmtpMailer({ url: email.smtpUrl, from: email.from, timeoutMs: email.timeoutMs });
  const channels = [createEmailChannel({ mailer, from: email.from, currency, timeoutMs: email.timeoutMs, retryScheduleMs: email.retryScheduleMs })];
  if (webhook) channels.push(createWebhookChannel({ ...webhook, currency }));
  return { channels, close: () => mailer.close() };
}
