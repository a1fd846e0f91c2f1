import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { notifyWorkers } from '../../src/notify/worker.ts';
import { paymentWorker } from '../../src/payment/worker.ts';
import { loadConfig } from '../../src/shared/runtime/config.ts';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createMetricsRegistry } from '../../src/shared/runtime/metrics.ts';
import { createRedis } from '../../src/shared/runtime/redis.ts';
import { createWorker, createWorkers } from '../../src/shared/worker/run-worker.ts';
import { BASE, get, readJson } from '../helpers/app.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

let pipeline: Pipeline;
beforeAll(async () => {
  pipeline = await createPipeline('fuzz');
});
afterAll(() => pipeline.close());

/** Deterministic PRNG (mulberry32), so a failure can be reproduced from its seed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIRD_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, -0, 1e308, -1e308, 2 ** 31, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, '', ' ', '1', '0x10', 'NaN',
  '🍕🍕🍕', '\u0000', '\u202e', 'é'.repeat(300), 'a'.repeat(5000), [], {}, [[]], { __proto__: { admin: true } }, { constructor: 'x' },
  '<script>alert(1)</script>', "'; drop table orders; --", '%00', '../../etc/passwd',
];

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/** A malformed or hostile body for POST /orders. */
function badBody(random: () => number): { body: string; contentType: string } {
  const weird = () => pick(random, WEIRD_VALUES);
  const shapes: (() => unknown)[] = [
    () => ({ items: weird(), customerEmail: 'a@example.com' }),
    () => ({ items: [{ menuItemId: weird(), quantity: 1 }], customerEmail: 'a@example.com' }),
    () => ({ items: [{ menuItemId: 1, quantity: weird() }], customerEmail: 'a@example.com' }),
    () => ({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: weird() }),
    () => ({ items: Array.from({ length: 1 + Math.floor(random() * 200) }, () => ({ menuItemId: 1 + Math.floor(random() * 20), quantity: Math.floor(random() * 60) })), customerEmail: 'a@example.com' }),
    () => weird(),
    () => ({ items: [{ menuItemId: 1, quantity: 1, ...Object.fromEntries([[String(weird()), weird()]]) }], customerEmail: 'a@example.com', extra: weird() }),
  ];
  const raw: (() => string)[] = [
    () => JSON.stringify(pick(random, shapes)()),
    () => nested(1 + Math.floor(random() * 20_000)),
    () => `{"items": ${nested(500)}, "customerEmail": "a@example.com"}`,
    () => JSON.stringify(pick(random, shapes)()).slice(0, Math.floor(random() * 40)),
    () => '{"items": [{"menuItemId": 1, "quantity": 1}], "customerEmail": "a@example.com"'.replace(':', pick(random, ['', '::', ': ,'])),
    () => 'x'.repeat(Math.floor(random() * 200_000)),
    () => '\uFEFF{"items":[]}',
    () => String.fromCharCode(...Array.from({ length: 64 }, () => Math.floor(random() * 0xffff))),
  ];
  const contentTypes = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/xml', '', 'application/json; boundary=x', 'APPLICATION/JSON', 'multipart/form-data; boundary=zz'];
  return { body: pick(random, raw)(), contentType: random() < 0.8 ? 'application/json' : pick(random, contentTypes) };
}

function badRequest(random: () => number): Request {
  const kind = random();
  if (kind < 0.6) {
    const { body, contentType } = badBody(random);
    const headers: Record<string, string> = {};
    if (contentType) headers['content-type'] = contentType;
    if (random() < 0.3) headers['idempotency-key'] = pick(random, ['', ' ', 'k'.repeat(300), 'ok-key', 'ünicode', 'a b', 'x'.repeat(255)]);
    if (random() < 0.2) headers['x-request-id'] = pick(random, ['', 'x'.repeat(500), '../../', 'ok-id', '"quoted"']);
    return new Request(`${BASE}/orders`, { method: 'POST', headers, body });
  }
  if (kind < 0.8) {
    const id = pick(random, ['1', '-1', 'null', '%00', '%F0%9F%8D%95', 'x'.repeat(2000), '00000000-0000-0000-0000-000000000000', "1'or'1'='1", '..%2F..%2Fetc', crypto.randomUUID(), '0193A5C4-7F7E-7C43-9B1E-5A9D2F4C1E11']);
    return get(`/orders/${id}`);
  }
  const method = pick(random, ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'POST']);
  const path = pick(random, ['/menu?x=1&x=2', '/menu/1', '/orders', '/health?verbose=%ZZ', '/', '/docs/../menu', '/admin', '/orders/', '//orders', '/%2e%2e/']);
  return new Request(`${BASE}${path}`, { method, body: method === 'GET' || method === 'OPTIONS' ? undefined : '{}' });
}

describe('thousands of malformed requests', () => {
  it('get no 5xx, every error in the documented shape, and leave the service healthy', async () => {
    const random = prng(20261125);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      const request = badRequest(random);
      const described = `${request.method} ${new URL(request.url).pathname}`;
      const res = await pipeline.app.handle(request);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status < 500 ? res.status : `${res.status} for request #${i}: ${described}`).toBe(res.status);
      if (res.status >= 400) {
        const body = await readJson(res);
        expect(typeof body.error?.code).toBe('string');
        expect(typeof body.error?.message).toBe('string');
        expect(JSON.stringify(body)).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
      } else {
        await res.arrayBuffer();
      }
    }
    // The mix really reached the error paths, not just one of them.
    for (const status of [400, 404, 413, 415, 422]) expect(statuses.get(status) ?? 0).toBeGreaterThan(0);
    const health = await pipeline.app.handle(get('/health'));
    expect(health.status).toBe(200);
  });
});

describe('malformed stream entries', () => {
  it('all end in the right dead-letter stream, and the workers keep going', async () => {
    const config = loadConfig({ ...pipeline.env({ CONSUMER_NAME: 'fuzz' }) });
    const log = createLogger({ service: 'fuzz', level: 'silent' });
    const connections = [0, 1, 2, 3].map((i) => createRedis(config.redisUrl, { connectionName: `fuzz-${i}`, log }));
    const payment = createWorker(paymentWorker(config), { db: pipeline.db, redis: connections[0]!, blockingRedis: connections[1]!, log, metrics: createMetricsRegistry('test') });
    const notify = createWorkers(notifyWorkers(config), { db: pipeline.db, redis: connections[2]!, blockingRedis: connections[3]!, log, metrics: createMetricsRegistry('test') });
    void payment.consumer.start();
    void notify.consumer.start();
    try {
      const random = prng(7);
      const entries = (stream: string) =>
        Array.from({ length: 50 }, () => {
          const fields: string[] = [];
          const count = Math.floor(random() * 6);
          for (let f = 0; f < count; f++) {
            fields.push(pick(random, ['type', 'orderId', 'totalCents', 'items', 'eventId', 'requestId', 'outcome', 'x', '🍕']));
            fields.push(String(pick(random, WEIRD_VALUES) ?? 'null').slice(0, 300));
          }
          return fields.length > 0 ? fields : ['empty', ''];
        }).map((fields) => pipeline.admin.xadd(pipeline.key(stream), '*', ...fields));
      await Promise.all([...entries(TOPOLOGY.OrderPlaced.stream), ...entries(TOPOLOGY.CustomerEmail.stream)]);

      await waitFor(async () => (await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).length === 50, { what: '50 payment dead letters' });
      await waitFor(async () => (await pipeline.deadLetters(TOPOLOGY.CustomerEmail.deadLetterStream)).length === 50, { what: '50 notify dead letters' });
      for (const letter of await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)) {
        expect(letter.originalStream).toBe(pipeline.key(TOPOLOGY.OrderPlaced.stream));
        expect(letter.error).toMatch(/invalid|does not exist/);
      }
      // And a real order still goes through.
      const { id } = await pipeline.placeOrder('after-fuzz@example.com');
      await waitFor(async () => (await pipeline.orderState(id)).notifications === 1, { what: 'a good order after the garbage' });
    } finally {
      await payment.consumer.stop(1000);
      await notify.consumer.stop(1000);
      await payment.parts.stop?.();
      for (const part of notify.parts) await part.stop?.();
      for (const connection of connections) connection.disconnect();
    }
  });
});
