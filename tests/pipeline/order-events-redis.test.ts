import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { recordOutcomes } from '../../src/shared/payments/payment-outcomes.ts';
import { createOrderChanges } from '../../src/shared/pipeline/order-changes.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createRedis } from '../../src/shared/runtime/redis.ts';
import { closeRedis } from '../../src/shared/runtime/shutdown.ts';
import { readJson } from '../helpers/app.ts';
import { captureLines } from '../helpers/log-capture.ts';
import { openOrderStream } from '../helpers/order-stream.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, type RunningService } from '../helpers/processes.ts';
import { startPrivateRedis } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

/**
 * Redis restarted (empty) under an API process while a client follows an order: the change made
 * meanwhile was never announced (it is written here the way the payment worker writes it, with Redis
 * away), and still reaches the client, because the API's reader re-reads every followed order from
 * PostgreSQL once it reads again. A Redis of this file's own: the shared one is never restarted.
 */
let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let pipeline: Pipeline;
let api: RunningService;

beforeAll(async () => {
  redis = await startPrivateRedis();
  pipeline = await createPipeline('order_events_redis', { redisUrl: redis.url });
  api = await pipeline.spawn('api', { SSE_KEEP_ALIVE_MS: '200' });
});
afterAll(async () => {
  await killAll();
  await pipeline?.close();
  await redis?.destroy();
});

describe('following an order while Redis restarts', () => {
  it('still delivers the change made while Redis was down, then the ones announced after', async () => {
    const url = `http://127.0.0.1:${api.port}`;
    const placed = await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ menuItemId: 3, quantity: 1 }], customerEmail: 'outage@example.com' }),
    });
    const orderId: string = (await readJson(placed)).id;
    const stream = await openOrderStream(`${url}/orders/${orderId}/events`);
    await stream.waitForMessages(1);

    await redis.stop();
    await recordOutcomes(pipeline.sql, [{ orderId, outcome: 'succeeded', chargeId: 'ch_during_outage', attempts: 1, source: 'reply' }], []);
    // The stream is still open, and Redis is still down: the change is in PostgreSQL only.
    await waitFor(() => stream.comments.filter((comment) => comment === 'keep-alive').length >= 2, { what: 'keep-alives while Redis is down' });
    expect(stream.messages).toHaveLength(1);

    await redis.start();
    const [, paid] = await stream.waitForMessages(2, 15_000);
    expect(paid!.order).toMatchObject({ status: 'paid', payment: { chargeId: 'ch_during_outage' } });
    await api.waitForLine((line) => line.msg === 'reading the stream again; catching up from the source', 'the reader catching up');

    // Announced the ordinary way after the restart: read from the restarted stream, and the last change ends the stream.
    const log = createLogger({ service: 'test', level: 'silent', destination: captureLines().stream });
    const writer = createRedis(redis.url, { connectionName: 'test-writer', log });
    try {
      await pipeline.sql`
        insert into deliveries (order_id, channel, status, recipient, outcome, attempts, event_id, request_id, sent_at)
        values (${orderId}, 'email', 'sent', 'outage@example.com', 'succeeded', 1, gen_random_uuid(), 'test', now())`;
      createOrderChanges({ redis: writer, prefix: pipeline.prefix, log }).announce([orderId]);
      const messages = await stream.waitForEnd();
      expect(messages.map(({ order }) => order.deliveries.length)).toEqual([0, 0, 1]);
    } finally {
      await closeRedis(writer);
    }
  });
});
