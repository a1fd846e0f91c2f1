import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { Elysia, t } from 'elysia';
import { toAppError, errorHandler } from '../../src/api/errors/handler.ts';
import { statusOf } from '../../src/api/errors/status.ts';
import { createApiMetrics } from '../../src/api/metrics.ts';
import { requestContext } from '../../src/api/plugins/request-context.ts';
import { createDb } from '../../src/shared/db/client.ts';
import { errorCode } from '../../src/shared/db/connection-error.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createMetricsRegistry } from '../../src/shared/runtime/metrics.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { BASE, createTestApp, get, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { captureLines } from '../helpers/log-capture.ts';
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

  it('answers a value PostgreSQL refuses (SQLSTATE class 22) with 400 validation_failed, never 500', async () => {
    const refusals = [
      sql`select 'urn:uuid:0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11'::uuid`, // 22P02 invalid_text_representation
      sql`select 99999999999::int4`, // 22003 numeric_value_out_of_range
      sql`select '2026-13-45'::date`, // 22008 datetime_field_overflow
    ];
    for (const query of refusals) {
      const error = await tdb.db.execute(query).then(() => undefined, (e: unknown) => e);
      expect(errorCode(error)).toStartWith('22');
      const known = toAppError('UNKNOWN', error, get('/orders/x'), '/orders/x');
      expect(known?.code).toBe('validation_failed');
      expect(statusOf(known!)).toBe(400);
    }
    // Not every database error is the client's: a missing table is still a bug.
    const bug = await unmigrated.db.execute(sql`select * from orders`).then(() => undefined, (e: unknown) => e);
    expect(errorCode(bug)).toBe('42P01');
    expect(toAppError('UNKNOWN', bug, get('/menu'), '/menu')).toBeNull();
  });

  it('answers a response that fails its own schema with 500 internal_error, and logs where without the values', async () => {
    const logs = captureLines();
    const log = createLogger({ service: 'api', level: 'debug', destination: logs.stream });
    const app = new Elysia()
      .use(errorHandler(log))
      .use(requestContext(log, createApiMetrics(createMetricsRegistry('api'))))
      .get('/broken', () => ({ id: 'ada@example.com' }) as unknown as { id: number }, { response: { 200: t.Object({ id: t.Integer() }) } });
    const res = await app.handle(get('/broken', { 'x-request-id': 'bad-response-1' }));
    expect(res.status).toBe(500);
    expect(await readJson(res)).toEqual({ error: { code: 'internal_error', message: 'Internal server error', requestId: 'bad-response-1' } });
    const logged = logs.lines.find((line) => line.request_id === 'bad-response-1' && line.level === 'error');
    expect((logged?.err as { message?: string } | undefined)?.message).toContain('The response to GET /broken does not match its schema: /id');
    expect(JSON.stringify(logged)).not.toContain('ada@example.com');
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
