import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { isRetryableDbError, retryDelay } from '../../src/api/services/db-retry.ts';
import { createDb } from '../../src/shared/db/client.ts';
import { isDatabaseUnreachable } from '../../src/shared/db/connection-error.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { createTestApp, get, postJson, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';

allowSlowTests(120_000);

/**
 * The API rides through PostgreSQL faults: sessions killed under load, and a COMMIT whose answer
 * never arrives. Real PostgreSQL; the faults are made by PostgreSQL itself (pg_terminate_backend) and
 * by a TCP proxy that cuts the connection as the COMMIT's reply comes back.
 */
let tdb: TestDatabase;

// What src/api/main.ts does through surviveStrayConnectionErrors: postgres.js can reject a promise
// nobody awaits any more when PostgreSQL ends a session; the pool replaces the connection anyway.
const strayConnectionError = (reason: unknown) => {
  if (!isDatabaseUnreachable(reason)) throw reason;
};

beforeAll(async () => {
  process.on('unhandledRejection', strayConnectionError);
  tdb = await createTestDatabase('db_faults');
  await seedMenu(tdb.db);
});
afterAll(async () => {
  await tdb.drop();
  process.off('unhandledRejection', strayConnectionError);
});

const orderBody = (email: string) => ({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: email });

async function ordersFor(email: string) {
  return tdb.db.execute<{ id: string }>(sql`select id from orders where customer_email = ${email}`);
}

describe('the API under PostgreSQL session kills', () => {
  it('answers no 5xx beyond 0.5 %, and no order stands behind a 5xx', async () => {
    const applicationName = `api-under-kills-${process.pid}`;
    const handle = createDb(tdb.url, { max: 8, applicationName });
    const { app } = createTestApp(handle.db);
    const killer = postgres(tdb.url, { max: 1, onnotice: () => {} });
    let killing = true;
    let kills = 0;
    const killLoop = (async () => {
      while (killing) {
        const rows = await killer`select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = ${applicationName}`;
        kills += rows.filter((row) => row.killed).length;
        await Bun.sleep(150 + Math.random() * 200);
      }
    })();

    const CLIENTS = 8;
    const PER_CLIENT = 60;
    const outcomes: { email: string; status: number; id?: string }[] = [];
    try {
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, client) => {
          for (let i = 0; i < PER_CLIENT; i++) {
            const email = `kill-${client}-${i}@example.com`;
            const res = await app.handle(postJson('/orders', orderBody(email)));
            const body = await readJson(res);
            outcomes.push({ email, status: res.status, id: body.id });
            // Reads ride through too.
            if (res.status === 201 && i % 5 === 0) {
              const read = await app.handle(get(`/orders/${body.id}`));
              outcomes.push({ email: `read:${email}`, status: read.status });
            }
          }
        }),
      );
    } finally {
      killing = false;
      await killLoop;
      await killer.end();
    }
    expect(kills).toBeGreaterThan(5);
    const failed = outcomes.filter((o) => o.status >= 500);
    expect(failed.length).toBeLessThanOrEqual(Math.floor(outcomes.length * 0.005));
    for (const { email } of failed.filter((o) => !o.email.startsWith('read:'))) expect(await ordersFor(email)).toHaveLength(0);
    // Every 201 is exactly one order, the one it named.
    for (const { email, id } of outcomes.filter((o) => o.status === 201)) {
      expect((await ordersFor(email)).map((row) => row.id)).toEqual([id!]);
    }
    await handle.close();
  });
});

describe('a connection lost while COMMIT is on the wire', () => {
  it('finds out on a fresh connection that the order exists and answers 201 with it, never a second order', async () => {
    const target = new URL(tdb.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const handle = createDb(`postgres://${target.username}@127.0.0.1:${proxy.port}${target.pathname}`, { max: 2 });
    try {
      const { app, logs } = createTestApp(handle.db);
      // Warm the pool, so the cut hits the order's own transaction.
      expect((await app.handle(get('/menu'))).status).toBe(200);
      proxy.cutAfterRequest((text) => /\bcommit\b/i.test(text));
      for (const headers of [{}, { 'idempotency-key': `cut-${process.pid}` }] as Record<string, string>[]) {
        const email = `cut-${Object.keys(headers).length}@example.com`;
        if (Object.keys(headers).length > 0) proxy.cutAfterRequest((text) => /\bcommit\b/i.test(text));
        const res = await app.handle(postJson('/orders', orderBody(email), headers));
        expect(proxy.cutDone()).toBe(true);
        expect(res.status).toBe(201);
        const body = await readJson(res);
        expect((await ordersFor(email)).map((row) => row.id)).toEqual([body.id]);
        expect(body).toMatchObject({ status: 'processing', customerEmail: email, totalCents: 1250 });
      }
      expect(logs.lines.some((line) => line.level === 'error')).toBe(false);
    } finally {
      // The connection the proxy cut never says goodbye: do not wait for it.
      await handle.sql.end({ timeout: 0 });
      proxy.stop();
    }
  });
});

describe('the request retry policy', () => {
  const retryable = fc.constantFrom('57P01', '57P02', '57P03', '40001', '40P01', '08006', '08003', 'ECONNRESET', 'CONNECTION_CLOSED');
  const final = fc.constantFrom('23505', '23503', '22P02', '42P01', '55P03', undefined);

  it('retries only transient failures, and never past the budget', () => {
    fc.assert(
      fc.property(
        fc.oneof(retryable.map((code) => ({ code, retry: true })), final.map((code) => ({ code, retry: false }))),
        fc.integer({ min: 1, max: 50 }),
        fc.nat({ max: 5000 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.double({ min: 0, max: 0.9999, noNaN: true }),
        ({ code, retry }, attempt, elapsed, budget, r) => {
          const error = Object.assign(new Error('x'), code ? { code } : {});
          expect(isRetryableDbError(error)).toBe(retry);
          const delay = retryDelay(error, attempt, elapsed, budget, () => r);
          if (!retry) expect(delay).toBeUndefined();
          if (delay !== undefined) {
            expect(delay).toBeGreaterThanOrEqual(0);
            expect(elapsed + delay).toBeLessThan(budget);
          }
        },
      ),
    );
  });

  it('answers 503 with Retry-After once the budget is spent', async () => {
    const handle = createDb('postgres://postgres@127.0.0.1:1/nothing', { max: 1, connectTimeoutSeconds: 1 });
    const { app } = createTestApp(handle.db, { env: { DB_RETRY_BUDGET_MS: '200' } });
    const res = await app.handle(get('/menu'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await readJson(res)).error.code).toBe('service_unavailable');
    await handle.close();
  });
});
