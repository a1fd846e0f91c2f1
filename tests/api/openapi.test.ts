import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { sql } from 'drizzle-orm';
import { createDb } from '../../src/shared/db/client.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { createShutdownFlag } from '../../src/shared/runtime/probes.ts';
import { BASE, createTestApp, get, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { seedOpsState } from '../ops/ops-fixtures.ts';

allowSlowTests();

type Spec = Awaited<ReturnType<typeof SwaggerParser.dereference>> & { paths: Record<string, Record<string, any>> };

let tdb: TestDatabase;
let unmigrated: TestDatabase;
let spec: Spec;
const down = createDb('postgres://postgres@127.0.0.1:1/orders', { max: 1, connectTimeoutSeconds: 1 });

beforeAll(async () => {
  tdb = await createTestDatabase('openapi');
  await seedMenu(tdb.db);
  unmigrated = await createTestDatabase('openapi_unmigrated', { migrate: false });
  const { app } = createTestApp(tdb.db);
  spec = (await SwaggerParser.dereference(await readJson(await app.handle(get('/docs/json'))))) as Spec;
});
afterAll(async () => {
  await tdb.drop();
  await unmigrated.drop();
  await down.close();
});

describe('GET /docs', () => {
  it('serves Swagger UI', async () => {
    const { app } = createTestApp(tdb.db);
    const res = await app.handle(get('/docs'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('swagger-ui');
  });

  it('serves an OpenAPI document that a validator accepts', async () => {
    const { app } = createTestApp(tdb.db);
    const doc = await readJson(await app.handle(get('/docs/json')));
    expect(doc.openapi).toBe('3.1.0');
    await SwaggerParser.validate(doc);
  });

  it('documents every route the app serves, each with an example of its success body', () => {
    const { app } = createTestApp(tdb.db);
    const served = app.routes
      .filter((route) => !route.path.startsWith('/docs'))
      .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:(\w+)/g, '{$1}')}`)
      .toSorted();
    const documented = Object.entries(spec.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
      .toSorted();
    expect(documented).toEqual(served);
    for (const operations of Object.values(spec.paths)) {
      for (const operation of Object.values(operations) as any[]) {
        const [, success] = Object.entries(operation.responses).find(([status]) => status.startsWith('2'))!;
        const [media] = Object.values((success as any).content) as any[];
        expect(media.schema.examples?.length).toBeGreaterThan(0);
      }
    }
  });
});

describe('real responses match the documented schemas', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);

  async function conforms(pathTemplate: string, method: string, res: Response) {
    const operation = spec.paths[pathTemplate]?.[method];
    expect(operation, `${method} ${pathTemplate} is documented`).toBeDefined();
    const documented = operation.responses[String(res.status)];
    expect(documented, `${method} ${pathTemplate} documents status ${res.status}`).toBeDefined();
    const body = await readJson(res);
    const validate = ajv.compile(documented.content['application/json'].schema);
    const ok = validate(body);
    expect(ok ? [] : validate.errors, `${method} ${pathTemplate} ${res.status} body: ${JSON.stringify(body)}`).toEqual([]);
    return body;
  }

  const valid = { items: [{ menuItemId: 1, quantity: 2 }], customerEmail: 'docs@example.com' };

  it('for /menu', async () => {
    const { app } = createTestApp(tdb.db);
    await conforms('/menu', 'get', await app.handle(get('/menu')));
    await conforms('/menu', 'get', await createTestApp(unmigrated.db).app.handle(get('/menu')));
    await conforms('/menu', 'get', await createTestApp(down.db).app.handle(get('/menu')));
  });

  it('for POST /orders, errors included', async () => {
    const { app } = createTestApp(tdb.db);
    const statuses: number[] = [];
    const check = async (req: Request, theApp = app) => {
      const res = await theApp.handle(req);
      statuses.push(res.status);
      return conforms('/orders', 'post', res);
    };
    await check(postJson('/orders', valid));
    await check(postJson('/orders', valid, { 'idempotency-key': 'docs-1' }));
    await check(postJson('/orders', valid, { 'idempotency-key': 'docs-1' }));
    await check(postJson('/orders', { ...valid, customerEmail: 'other@example.com' }, { 'idempotency-key': 'docs-1' }));
    await check(postJson('/orders', valid, { 'idempotency-key': 'k'.repeat(256) }));
    await check(postJson('/orders', '{oops'));
    await check(postJson('/orders', { ...valid, pad: 'x'.repeat(100_000) }));
    await check(new Request(`${BASE}/orders`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' }));
    await check(postJson('/orders', { items: [] }));
    await check(postJson('/orders', { items: [{ menuItemId: 404, quantity: 1 }], customerEmail: 'docs@example.com' }));
    await check(postJson('/orders', valid), createTestApp(unmigrated.db).app);
    await check(postJson('/orders', valid), createTestApp(down.db).app);
    expect(new Set(statuses)).toEqual(new Set([201, 422, 400, 413, 415, 500, 503]));
  });

  it('for GET /orders/{id}', async () => {
    const { app } = createTestApp(tdb.db);
    const placed = await readJson(await app.handle(postJson('/orders', valid)));
    await tdb.db.execute(
      sql`insert into payment_attempts (order_id, outcome, attempts, failure_reason) values (${placed.id}, 'failed', 1, 'card_declined')`,
    );
    const body = await conforms('/orders/{id}', 'get', await app.handle(get(`/orders/${placed.id}`)));
    expect(body.payment.failureReason).toBe('card_declined');
    await conforms('/orders/{id}', 'get', await app.handle(get('/orders/0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11')));
    await conforms('/orders/{id}', 'get', await app.handle(get('/orders/abc')));
  });

  it('for the operations and admin routes, errors included', async () => {
    const withoutOps = createTestApp(tdb.db).app;
    expect((await conforms('/ops/summary', 'get', await withoutOps.handle(get('/ops/summary')))).error.code).toBe('service_unavailable');
    const replay = (app: typeof withoutOps, token?: string) =>
      app.handle(new Request(`${BASE}/admin/dead-letters/1-0/replay`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} }));
    expect((await conforms('/admin/dead-letters/{id}/replay', 'post', await replay(withoutOps, 'whatever'))).error.code).toBe('admin_disabled');
    const guarded = createTestApp(tdb.db, { env: { ADMIN_TOKEN: 'a-long-enough-admin-token' } }).app;
    expect((await conforms('/admin/dead-letters/{id}/replay', 'post', await replay(guarded))).error.code).toBe('unauthorized');
    const purgeAll = await guarded.handle(new Request(`${BASE}/admin/dead-letters`, { method: 'DELETE', headers: { authorization: 'Bearer nope' } }));
    expect((await conforms('/admin/dead-letters', 'delete', purgeAll)).error.code).toBe('unauthorized');
  });

  it('for /ops/summary, masked and in full, and an admin id Redis would refuse', async () => {
    const redis = connectRedis();
    const prefix = uniquePrefix('openapi');
    try {
      await seedOpsState(redis, prefix);
      const token = 'a-long-enough-admin-token';
      const { app } = createTestApp(tdb.db, { env: { ADMIN_TOKEN: token }, ops: { redis, prefix } });
      const summary = (headers: Record<string, string>) => app.handle(get('/ops/summary', headers));
      const masked = await conforms('/ops/summary', 'get', await summary({}));
      expect(masked.masked).toBe(true);
      expect(masked.deadLetters).toHaveLength(1);
      const full = await conforms('/ops/summary', 'get', await summary({ authorization: `Bearer ${token}` }));
      expect(full.masked).toBe(false);
      const tooLarge = await app.handle(
        new Request(`${BASE}/admin/dead-letters/18446744073709551616-0/replay`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }),
      );
      expect((await conforms('/admin/dead-letters/{id}/replay', 'post', tooLarge)).error.code).toBe('validation_failed');
    } finally {
      await deleteKeys(redis, prefix);
      redis.disconnect();
    }
  });

  it('for /health, up and down', async () => {
    const up = createTestApp(tdb.db).app;
    const downApp = createTestApp(down.db, { healthChecks: { postgres: () => down.db.execute(sql`select 1`) } }).app;
    expect((await conforms('/health', 'get', await up.handle(get('/health')))).status).toBe('ok');
    expect((await conforms('/health', 'get', await downApp.handle(get('/health')))).status).toBe('unavailable');
  });

  it('for the liveness and readiness probes: up, a dependency down, shutting down', async () => {
    const up = createTestApp(tdb.db).app;
    const downApp = createTestApp(down.db, { healthChecks: { postgres: () => down.db.execute(sql`select 1`) } }).app;
    const shutdown = createShutdownFlag();
    shutdown.request();
    const stopping = createTestApp(tdb.db, { shutdown }).app;
    expect((await conforms('/health/live', 'get', await up.handle(get('/health/live')))).status).toBe('ok');
    expect((await conforms('/health/live', 'get', await downApp.handle(get('/health/live')))).status).toBe('ok');
    expect((await conforms('/health/live', 'get', await stopping.handle(get('/health/live')))).status).toBe('shutting_down');
    expect((await conforms('/health/ready', 'get', await up.handle(get('/health/ready')))).status).toBe('ok');
    expect((await conforms('/health/ready', 'get', await downApp.handle(get('/health/ready')))).status).toBe('unavailable');
    expect((await conforms('/health/ready', 'get', await stopping.handle(get('/health/ready')))).status).toBe('shutting_down');
  });
});
