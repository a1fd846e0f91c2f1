import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { retryDelay } from '../../src/api/services/db-retry.ts';
import { isTransientDbError } from '../../src/shared/db/connection-error.ts';
import { createDb } from '../../src/shared/db/client.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { createTestApp, get, readJson } from '../helpers/app.ts';
import { spawnApi as spawnApiProcess } from '../helpers/api-process.ts';
import { killAll } from '../helpers/processes.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';

allowSlowTests(120_000);

/**
 * The API rides through PostgreSQL faults: sessions killed under load, and a write whose answer
 * never arrives. A real API process on real PostgreSQL; the faults are made by PostgreSQL itself
 * (pg_terminate_backend of the API's sessions) and by a TCP proxy that cuts the connection as the
 * write's reply comes back.
 */
let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase('db_faults');
  await seedMenu(tdb.db);
});
afterAll(async () => {
  await killAll();
  await tdb.drop();
});

const orderBody = (email: string) => ({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: email });

async function ordersFor(email: string) {
  return tdb.db.execute<{ id: string }>(sql`select id from orders where customer_email = ${email}`);
}

/** A real API process on this test's database. */
async function spawnApi(databaseUrl: string) {
  const started = await spawnApiProcess(databaseUrl, 'db_faults');
  return { ...started, post: (email: string, headers: Record<string, string> = {}) => started.post(orderBody(email), headers) };
}

describe('the API under PostgreSQL session kills', () => {
  // Regression: this failed about one run in three (every run on a loaded machine) with 3-12 503s, each
  // a request that spent its budget on connects that could never succeed: postgres.js's poisoned
  // connections, stranded queries and 10-20 s reconnect delays (tests/shared/db-driver.test.ts).
  it('answers no 500, no 503 beyond 0.5 %, and no order stands behind a 5xx', async () => {
    const { api, post, get: fetchPath } = await spawnApi(tdb.url);
    const killer = postgres(tdb.url, { max: 1, onnotice: () => {} });
    let killing = true;
    let kills = 0;
    const killLoop = (async () => {
      while (killing) {
        const rows = await killer`select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = 'api' and datname = ${tdb.name}`;
        kills += rows.filter((row) => row.killed).length;
        await Bun.sleep(150 + Math.random() * 200);
      }
    })();

    const CLIENTS = 8;
    const PER_CLIENT = 60;
    const outcomes: { email: string; status: number; id?: string; error?: string }[] = [];
    try {
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, client) => {
          for (let i = 0; i < PER_CLIENT; i++) {
            const email = `kill-${client}-${i}@example.com`;
            const res = await post(email);
            const body = await readJson(res);
            outcomes.push({ email, status: res.status, id: body.id, error: body.error?.message });
            // Reads ride through too.
            if (res.status === 201 && i % 5 === 0) {
              const read = await fetchPath(`/orders/${body.id}`);
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
    // Each 5xx and what the API logged for it (the driver's error sits after drizzle's query text), to read when this fails.
    if (failed.length > 0) {
      console.log(failed, api.lines.filter((l) => l.level === 'error').map((l) => String((l.err as { message?: string }).message).split('\n').slice(1).join(' ').slice(0, 300)));
    }
    // A cut session is the database being briefly unreachable: a 503 with Retry-After at worst, never a
    // 500 (regression: a query written into a session the server had just ended failed with EPIPE, which
    // was not taken for a connection failure).
    expect(failed.filter((o) => o.status !== 503)).toEqual([]);
    expect(failed.length).toBeLessThanOrEqual(Math.floor(outcomes.length * 0.005));
    for (const { email } of failed.filter((o) => !o.email.startsWith('read:'))) expect(await ordersFor(email)).toHaveLength(0);
    // Every 201 is exactly one order, the one it named.
    for (const { email, id } of outcomes.filter((o) => o.status === 201)) {
      expect((await ordersFor(email)).map((row) => row.id)).toEqual([id!]);
    }
  });
});

describe('a connection lost while the order is being written', () => {
  it('finds out on a fresh connection that the order exists and answers 201 with it, never a second order', async () => {
    const target = new URL(tdb.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    try {
      const { api, post } = await spawnApi(`postgres://${target.username}@127.0.0.1:${proxy.port}${target.pathname}`);
      for (const headers of [{}, { 'idempotency-key': `cut-${process.pid}` }] as Record<string, string>[]) {
        const email = `cut-${Object.keys(headers).length}@example.com`;
        // The server wrote the order (one statement, committed on its own) and answers with its priced
        // lines; the client never hears it. Prepared statements carry no SQL text after their first
        // use, so the cut is armed on the reply: the first one naming the ordered dish.
        proxy.cutReply((text) => text.includes('Margherita Pizza'));
        const res = await post(email, headers);
        expect(proxy.cutDone()).toBe(true);
        expect(res.status).toBe(201);
        const body = await readJson(res);
        expect((await ordersFor(email)).map((row) => row.id)).toEqual([body.id]);
        expect(body).toMatchObject({ status: 'processing', customerEmail: email, totalCents: 1250 });
      }
      expect(api.lines.filter((line) => line.level === 'error')).toEqual([]);
    } finally {
      proxy.stop();
    }
  });
});

describe('the request retry policy', () => {
  const retryable = fc.constantFrom('57P01', '57P02', '57P03', '57014', '40001', '40P01', '08006', '08003', 'ECONNRESET', 'EPIPE', 'CONNECTION_CLOSED');
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
          expect(isTransientDbError(error)).toBe(retry);
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
