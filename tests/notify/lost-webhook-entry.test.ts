import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { startWebhookReceiver, type WebhookReceiver } from '../../scripts/lib/webhook-receiver.ts';
import { notifyWorkers } from '../../src/notify/worker.ts';
import { reconcile } from '../../src/shared/pipeline/reconciler.ts';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { loadConfig } from '../../src/shared/runtime/config.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createMetricsRegistry } from '../../src/shared/runtime/metrics.ts';
import { createRedisClient } from '../../src/shared/runtime/redis.ts';
import { createWorker } from '../../src/shared/worker/run-worker.ts';
import { captureLines } from '../helpers/log-capture.ts';
import { deliveryOf, paidOrder } from '../helpers/notify.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { waitFor } from '../helpers/wait-for.ts';

/**
 * The restaurant's webhook of a paid order whose `payment.completed` entry Redis lost after the
 * customer's e-mail group read it and before the webhook group did (a restart without persistence, a
 * failover to a lagging replica). The entry was the only record that a webhook was owed; the e-mail's
 * worker now registers the webhook's delivery beside its own, so the reconciler finds it and emits
 * the event again. Real PostgreSQL, Redis, SMTP server and HTTP endpoint; the two channels' workers run
 * in this process so the test can start the webhook's after the entry is gone.
 */
let pipeline: Pipeline;
let receiver: WebhookReceiver;
const stops: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  pipeline = await createPipeline('notify_lost_webhook');
  receiver = startWebhookReceiver();
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await receiver?.stop();
  await pipeline?.close();
});

/** Starts one channel's worker (its own consumer group) the way the notify process runs it. */
function startChannel(index: 0 | 1) {
  const config = loadConfig(pipeline.env({ CONSUMER_NAME: `lost-webhook-${index}`, ORDER_WEBHOOK_URL: receiver.url, ORDER_WEBHOOK_SECRET: receiver.secret }));
  const log = createLogger({ service: 'notify', level: 'info', destination: captureLines().stream });
  const redis = createRedisClient({ url: config.redisUrl }, { connectionName: `lost-webhook-${index}`, log });
  const blockingRedis = createRedisClient({ url: config.redisUrl }, { connectionName: `lost-webhook-${index}-read`, log });
  const definition = notifyWorkers(config)[index]!;
  const { consumer, parts } = createWorker(definition, { db: pipeline.db, redis, blockingRedis, log, metrics: createMetricsRegistry('notify') });
  const stop = async () => {
    await consumer.stop(2000);
    await parts.stop?.();
    redis.disconnect();
    blockingRedis.disconnect();
  };
  stops.push(stop);
  void consumer.start();
  return stop;
}

describe('a restaurant webhook whose entry Redis lost', () => {
  it('is registered by the e-mail worker, found by the reconciler and sent once', async () => {
    const stopEmail = startChannel(0);
    const { id } = await paidOrder(pipeline, 'lost-entry@example.com');
    await waitFor(async () => (await deliveryOf(pipeline, id, 'email'))?.status === 'sent', { what: "the customer's e-mail sent" });
    // The webhook's delivery exists before any attempt: pending, nothing tried yet.
    expect(await deliveryOf(pipeline, id, 'webhook')).toMatchObject({ status: 'pending', attempts: 0, messageId: `msg_${id}_order.paid` });

    // Redis loses the stream before the webhook group ever read it.
    await stopEmail();
    await pipeline.admin.del(pipeline.key(TOPOLOGY.RestaurantWebhook.stream));
    startChannel(1);

    // The event is emitted again once the delivery has been still for the reconciler's cutoff.
    await waitFor(async () => (await reconcile(pipeline.db, { olderThanMs: 300 })).paymentCompleted === 1, { what: 'the reconciler to emit the event again' });
    pipeline.relay.kick();
    await waitFor(async () => (await deliveryOf(pipeline, id, 'webhook'))?.status === 'sent', { what: "the restaurant's webhook sent" });
    expect(receiver.requests.filter((request) => request.id === `msg_${id}_order.paid`)).toHaveLength(1);
    // The customer's e-mail was not sent again.
    expect(pipeline.system.mail.accepted.filter((mail) => mail.to.includes('lost-entry@example.com'))).toHaveLength(1);
    expect(await reconcile(pipeline.db, { olderThanMs: 300 })).toEqual({ orderPlaced: 0, paymentCompleted: 0 });
  });
});
