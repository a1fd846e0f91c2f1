import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { createDb } from '../../src/shared/db/client.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { BASE, createTestApp, get, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

let tdb: TestDatabase;
let unmigrated: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase('errors');
  await seedMenu(tdb.db);
  unmigrated = await createTestDatabase('errors_unmigrated', { migrate: false });
});
afterAll(async () => {
  await tdb.drop();
  await unmigrated.drop();
});

describe('X-Request-ID', () => {
  it('echoes a sane client id and stamps it on every log line of the request', async () => {
    const { app, logs } = createTestApp(tdb.db);
    const res = await app.handle(
      postJson('/orders', { items: [{ menuItemId: 1, quantity: 1 }], customerEmail: 'a@example.com' }, { 'x-request-id': 'trace-abc.123' }),
    );
    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBe('trace-abc.123');
    const { id } = await readJson(res);

    // The access log line is written after the response is sent.
    await waitFor(() => logs.lines.some((line) => line.msg === 'request completed'), { what: 'the access log line' });
    const mine = logs.lines.filter((line) => line.request_id === 'trace-abc.123');
    expect(mine.map((line) => line.msg)).toEqual(['order placed', 'request completed']);
    expect(mine[0]).toMatchObject({ level: 'info', service: 'api', order_id: id });
    expect(typeof mine[0]!.time).toBe('string');
    expect(mine[1]).toMatchObject({ method: 'POST', path: '/orders', status: 201 });
  });

  it('replaces a missing or unsafe client id with a fresh UUID', async () => {
    const { app } = createTestApp(tdb.db);
    const variants: Record<string, string>[] = [{}, { 'x-request-id': 'has spaces and "quotes"' }, { 'x-request-id': 'x'.repeat(200) }];
    for (const headers of variants) {
      const res = await app.handle(get('/menu', headers));
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it('is carried by error responses too', async () => {
    const { app } = createTestApp(tdb.db);
    const res = await app.handle(get('/orders/nope', { 'x-request-id': 'err-1' }));
    expect(res.headers.get('x-request-id')).toBe('err-1');
    expect((await readJson(res)).error.requestId).toBe('err-1');
  });
});

describe('error responses', () => {
  it('answers 404 route_not_found for an unknown route or method', async () => {
    const { app } = createTestApp(tdb.db);
    for (const req of [get('/nowhere'), new Request(`${BASE}/menu`, { method: 'DELETE' })]) {
      const res = await app.handle(req);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect((await readJson(res)).error.code).toBe('route_not_found');
    }
  });

  it('answers an unexpected failure with 500, the request id and no stack trace, and logs the stack', async () => {
    const { app, logs } = createTestApp(unmigrated.db);
    const res = await app.handle(get('/menu', { 'x-request-id': 'boom-1' }));
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: 'internal_error', message: 'Internal server error', requestId: 'boom-1' } });
    expect(text).not.toContain('menu_items');
    expect(text).not.toMatch(/\bat .*\.ts/);
    const logged = logs.lines.find((line) => line.request_id === 'boom-1' && line.level === 'error');
    expect(JSON.stringify(logged)).toContain('stack');
  });

  describe('when PostgreSQL is unreachable', () => {
    const down = createDb('postgres://postgres@127.0.0.1:1/orders', { max: 1, connectTimeoutSeconds: 1 });
    const { app } = createTestApp(down.db, { healthChecks: { postgres: () => down.db.execute(sql`select 1`) } });
    afterAll(() => down.close());

    it('answers 503 service_unavailable instead of 500', async () => {
      for (const req of [get('/menu'), postJson('/orders', { items: [{ menuItemId: 1, quantity: 1 }], customerEmail: 'a@example.com' })]) {
        const res = await app.handle(req);
        expect(res.status).toBe(503);
        expect((await readJson(res)).error.code).toBe('service_unavailable');
      }
    });

    it('reports the failing check on /health with 503', async () => {
      const res = await app.handle(get('/health'));
      expect(res.status).toBe(503);
      expect(await readJson(res)).toEqual({ status: 'unavailable', checks: { postgres: 'error' } });
    });
  });

  it('reports healthy dependencies on /health with 200', async () => {
    const { app } = createTestApp(tdb.db);
    const res = await app.handle(get('/health'));
    expect(res.status).toBe(200);
    expect(await readJson(res)).toEqual({ status: 'ok', checks: { postgres: 'ok' } });
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus text with request counts by route pattern, latency, and orders created', async () => {
    const { app } = createTestApp(tdb.db);
    const placed = await readJson(await app.handle(postJson('/orders', { items: [{ menuItemId: 1, quantity: 1 }], customerEmail: 'm@example.com' })));
    await app.handle(get(`/orders/${placed.id}`));
    await app.handle(get('/orders/not-a-uuid'));
    // Metrics are recorded after the response is sent.
    let text = '';
    await waitFor(async () => {
      text = await (await app.handle(get('/metrics'))).text();
      return text.includes('route="/orders/:id",status="400"');
    }, { what: 'the metrics of the requests above' });
    const res = await app.handle(get('/metrics'));
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(text).toMatch(/^orders_created_total\{service="api"\} 1$/m);
    expect(text).toMatch(/^http_requests_total\{method="POST",route="\/orders",status="201",service="api"\} 1$/m);
    expect(text).toMatch(/^http_requests_total\{method="GET",route="\/orders\/:id",status="200",service="api"\} 1$/m);
    expect(text).toContain('http_request_duration_seconds_bucket{');
    expect(text).toContain('process_cpu_seconds_total');
    // Raw paths never become labels.
    expect(text).not.toContain(placed.id);
  });
});
