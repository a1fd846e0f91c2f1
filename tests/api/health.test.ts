import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { createDb } from '../../src/shared/db/client.ts';
import { createShutdownFlag } from '../../src/shared/runtime/probes.ts';
import { createTestApp, get, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { connectRedis, freePort } from '../helpers/redis.ts';

let tdb: TestDatabase;
// PostgreSQL on a port nobody listens on: the dependency that is down.
const down = createDb(`postgres://postgres@127.0.0.1:${await freePort()}/orders`, { max: 1, connectTimeoutSeconds: 1 });
const redis = connectRedis();

beforeAll(async () => {
  tdb = await createTestDatabase('health_probes');
});
afterAll(async () => {
  await tdb.drop();
  await down.close();
  redis.disconnect();
});

async function probe(app: ReturnType<typeof createTestApp>['app'], path: string) {
  const res = await app.handle(get(path));
  return { status: res.status, body: await readJson(res) };
}

describe('GET /health/live', () => {
  it('answers 200 while the process runs, even with PostgreSQL down', async () => {
    const { app } = createTestApp(down.db, { healthChecks: { postgres: () => down.db.execute(sql`select 1`) } });
    expect(await probe(app, '/health/live')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('answers 503 shutting_down once shutdown is requested', async () => {
    const shutdown = createShutdownFlag();
    const { app } = createTestApp(tdb.db, { shutdown });
    expect((await probe(app, '/health/live')).status).toBe(200);
    shutdown.request();
    expect(await probe(app, '/health/live')).toEqual({ status: 503, body: { status: 'shutting_down' } });
  });
});

describe('GET /health/ready', () => {
  it('answers 200 when its readiness checks pass, and ignores a dependency left out of them', async () => {
    const checks = { postgres: () => tdb.db.execute(sql`select 1`) };
    // As main.ts builds it: /health asks Redis too, readiness only what orders cannot be taken without.
    // Here the left-out dependency does not answer (the dead PostgreSQL stands in for a Redis that is away).
    const { app } = createTestApp(tdb.db, { healthChecks: { ...checks, redis: () => down.db.execute(sql`select 1`) }, readinessChecks: checks });
    expect(await probe(app, '/health/ready')).toEqual({ status: 200, body: { status: 'ok', checks: { postgres: 'ok' } } });
    expect((await probe(app, '/health')).status).toBe(503);
  });

  it('runs the /health checks when given no readiness checks of its own', async () => {
    const { app } = createTestApp(tdb.db, { healthChecks: { postgres: () => tdb.db.execute(sql`select 1`), redis: () => redis.ping() } });
    expect(await probe(app, '/health/ready')).toEqual({ status: 200, body: { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } } });
  });

  it('answers 503 naming the failing check when PostgreSQL is down', async () => {
    const { app } = createTestApp(down.db, { healthChecks: { postgres: () => down.db.execute(sql`select 1`) } });
    expect(await probe(app, '/health/ready')).toEqual({ status: 503, body: { status: 'unavailable', checks: { postgres: 'error' } } });
  });

  it('answers 503 shutting_down once shutdown is requested', async () => {
    const shutdown = createShutdownFlag();
    shutdown.request();
    const { app } = createTestApp(tdb.db, { shutdown });
    expect(await probe(app, '/health/ready')).toEqual({ status: 503, body: { status: 'shutting_down', checks: {} } });
  });
});
