import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { BASE, get, readJson } from '../helpers/app.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService } from '../helpers/processes.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { deadLetterAnOrder, fixMissingOrder } from './dead-letter-helpers.ts';

allowSlowTests();

const TOKEN = 'test-admin-token-0123456789';
let pipeline: Pipeline;
let readOnly: Pipeline;

beforeAll(async () => {
  pipeline = await createPipeline('ops_admin', { appEnv: { ADMIN_TOKEN: TOKEN } });
  readOnly = await createPipeline('ops_readonly');
  spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-admin' }));
  spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-admin' }));
  spawnService('payment', readOnly.env({ CONSUMER_NAME: 'payment-readonly' }));
});
afterAll(async () => {
  await killAll();
  await pipeline.close();
  await readOnly.close();
});

const request = (path: string, method: string, token?: string) =>
  new Request(`${BASE}${path}`, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

describe('GET /ops', () => {
  it('serves the operations page, self-contained', async () => {
    const res = await pipeline.app.handle(get('/ops'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toContain('Order service: operations');
    // No build step and no external network: nothing is loaded from another origin.
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('summarises streams, dead letters with their error, orders by status and breaker states', async () => {
    const { id } = await pipeline.placeOrder('summary@example.com');
    await pipeline.waitUntilSettled([id]);
    const { letterId, orderId } = await deadLetterAnOrder(pipeline);
    const summary = await waitFor(async () => {
      const body = await readJson(await pipeline.app.handle(request('/ops/summary', 'GET', TOKEN)));
      return Object.keys(body.breakers).length > 0 && body;
    }, { what: 'a payment worker to report its breaker' });
    expect(summary.adminEnabled).toBe(true);
    expect(summary.masked).toBe(false);
    expect(summary.breakers['payment-admin']).toBe('closed');
    expect(summary.streams.map((s: { stream: string }) => s.stream)).toEqual(['orders.placed', 'payment.completed']);
    const letter = summary.deadLetters.find((l: { id: string }) => l.id === letterId);
    expect(letter.error).toContain(`order ${orderId} does not exist`);
    expect(summary.deadLetterCounts[0]).toMatchObject({ stream: 'payment.dlq' });
    expect(summary.ordersByStatus).toHaveLength(15);
    expect(summary.ordersByStatus.reduce((sum: number, b: { paid: number }) => sum + b.paid, 0)).toBeGreaterThanOrEqual(1);

    // Without the token: the same figures, the worker and the order under opaque labels.
    const res = await pipeline.app.handle(get('/ops/summary'));
    const text = await res.text();
    const masked = JSON.parse(text);
    expect(masked.masked).toBe(true);
    expect(Object.keys(masked.breakers)).not.toContain('payment-admin');
    expect(Object.values(masked.breakers)).toContain('closed');
    const maskedLetter = masked.deadLetters.find((l: { id: string }) => l.id === letterId);
    expect(maskedLetter.fields.orderId).toMatch(/^ord_[0-9a-f]{12}$/);
    expect(maskedLetter.error).toContain(`order ${maskedLetter.fields.orderId} does not exist`);
    expect(text).not.toContain(orderId);
  });
});

describe('the admin endpoints', () => {
  it('answer 403 when no ADMIN_TOKEN is set, and change nothing', async () => {
    const { letterId } = await deadLetterAnOrder(readOnly);
    const res = await readOnly.app.handle(request(`/admin/dead-letters/${letterId}/replay`, 'POST', 'anything'));
    expect(res.status).toBe(403);
    expect((await readJson(res)).error.code).toBe('admin_disabled');
    expect((await readJson(await readOnly.app.handle(get('/ops/summary')))).adminEnabled).toBe(false);
    expect((await readOnly.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).some((l) => l.id === letterId)).toBe(true);
  });

  it('answer 401 without the right token, and change nothing', async () => {
    const { letterId } = await deadLetterAnOrder(pipeline);
    for (const token of [undefined, '', 'wrong-token', `${TOKEN}x`]) {
      const res = await pipeline.app.handle(request(`/admin/dead-letters/${letterId}`, 'DELETE', token));
      expect(res.status).toBe(401);
      expect((await readJson(res)).error.code).toBe('unauthorized');
    }
    expect((await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).some((l) => l.id === letterId)).toBe(true);
  });

  it('replay a dead letter with the token, and the order moves on', async () => {
    const { letterId, orderId } = await deadLetterAnOrder(pipeline);
    await fixMissingOrder(pipeline, orderId);
    const res = await pipeline.app.handle(request(`/admin/dead-letters/${letterId}/replay`, 'POST', TOKEN));
    expect(res.status).toBe(200);
    expect((await readJson(res)).replayed[0]).toMatchObject({ id: letterId, originalStream: pipeline.key(TOPOLOGY.OrderPlaced.stream) });
    await pipeline.waitUntilSettled([orderId]);
    expect((await pipeline.orderState(orderId)).status).toBe('paid');
  });

  it('purge one or all, and 404 for an unknown id', async () => {
    const { letterId } = await deadLetterAnOrder(pipeline);
    const one = await pipeline.app.handle(request(`/admin/dead-letters/${letterId}`, 'DELETE', TOKEN));
    expect(await readJson(one)).toEqual({ purged: 1 });
    const missing = await pipeline.app.handle(request(`/admin/dead-letters/${letterId}`, 'DELETE', TOKEN));
    expect(missing.status).toBe(404);
    expect((await readJson(missing)).error.code).toBe('dead_letter_not_found');
    await deadLetterAnOrder(pipeline);
    const all = await pipeline.app.handle(request('/admin/dead-letters', 'DELETE', TOKEN));
    expect((await readJson(all)).purged).toBeGreaterThanOrEqual(1);
    expect(await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).toEqual([]);
  });
});
