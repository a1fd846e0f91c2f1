import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import postgres from 'postgres';
import { claimIdempotencyKey, keyTiming, releaseIdempotencyKey } from '../../src/api/services/idempotency.ts';
import { seedMenu } from '../../src/shared/db/seed.ts';
import { readJson } from '../helpers/app.ts';
import { spawnApi } from '../helpers/api-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { killAll } from '../helpers/processes.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests(120_000);

/**
 * One Idempotency-Key, one order, whatever happens to the write between the API and PostgreSQL: a
 * write held on the server by a lock while its connection is cut, a write held in the network past the
 * key's abandonment, a statement that times out, an outage longer than the request's retry budget
 * right after the write. Real API processes, a TCP proxy in front of PostgreSQL, a second session
 * holding locks.
 */
let tdb: TestDatabase;
let admin: postgres.Sql;

beforeAll(async () => {
  tdb = await createTestDatabase('idem_faults');
  await seedMenu(tdb.db);
  admin = postgres(tdb.url, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await killAll();
  await admin.end();
  await tdb.drop();
});

const order = (email: string) => ({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: email });
const ordersFor = (email: string) => admin<{ id: string }[]>`select id from orders where customer_email = ${email}`;
const keyRow = async (key: string) =>
  (await admin<{ order_id: string | null; response_status: number | null; response_body: { id: string } | null }[]>`
    select order_id, response_status, response_body from idempotency_keys where key = ${key}`)[0];

async function proxyToDatabase() {
  const target = new URL(tdb.url);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  return { proxy, url: `postgres://${target.username}@127.0.0.1:${proxy.port}${target.pathname}` };
}

/** The API's sessions now waiting on a lock. */
const apiWaitingOnLocks = async () =>
  (await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where application_name = 'api' and datname = ${tdb.name} and wait_event_type = 'Lock'`)[0]!.n;

describe('a retry after a write whose outcome is unknown', () => {
  // Regression (issue 18, 1): the retry re-claimed its own key and unlinked the order its first try
  // then committed; its own insert met 23505 on orders_pkey and the client got a 500.
  for (const withKey of [true, false]) {
    it(`answers 201 with the one order the first try committed (${withKey ? 'with' : 'without'} an Idempotency-Key)`, async () => {
      const { proxy, url } = await proxyToDatabase();
      const locker = await admin.reserve();
      try {
        const { post } = await spawnApi(url, 'idem_faults');
        const email = `unknown-commit-${withKey}@example.com`;
        const key = `unknown-commit-${process.pid}-${withKey}`;
        // A row lock on the ordered dish holds the order write on the server (its foreign key check waits).
        await locker`begin`;
        await locker`select id from menu_items where id = 1 for update`;
        const response = post(order(email), withKey ? { 'idempotency-key': key } : {});
        await waitFor(async () => (await apiWaitingOnLocks()) >= 1, { what: 'the order write to wait on the lock' });
        // The API's connections are cut while its write waits; the server still runs it.
        proxy.cutAll();
        await waitFor(async () => (await apiWaitingOnLocks()) >= 2, { what: "the request's retry to wait behind its first try" });
        await locker`commit`;

        const res = await response;
        const body = await readJson(res);
        expect(res.status).toBe(201);
        expect((await ordersFor(email)).map((row) => row.id)).toEqual([body.id]);
        if (withKey) {
          expect(await keyRow(key)).toMatchObject({ order_id: body.id, response_status: 201, response_body: { id: body.id } });
          const again = await post(order(email), { 'idempotency-key': key });
          expect(again.status).toBe(201);
          expect((await readJson(again)).id).toBe(body.id);
          expect(await ordersFor(email)).toHaveLength(1);
        }
      } finally {
        await locker`rollback`.catch(() => undefined);
        locker.release();
        proxy.stop();
      }
    });
  }
});

describe("a write that arrives after its key's claim was taken over", () => {
  // Regression (issue 18, 2): the late write committed a second order and pointed the key at it,
  // overwriting the answer the other client got.
  it('commits nothing, and its request answers with the order of the request that took the key over', async () => {
    const { proxy, url } = await proxyToDatabase();
    try {
      // Statements bounded at 1 s: the write window is 1 s and a claim is abandoned after 3 s.
      const env = { DB_STATEMENT_TIMEOUT_MS: '1000', IDEMPOTENCY_WAIT_MS: '10000' };
      const stalled = await spawnApi(url, 'idem_faults', env);
      const direct = await spawnApi(tdb.url, 'idem_faults', env);
      const email = 'late-write@example.com';
      const key = `late-write-${process.pid}`;
      // Warm the stalled API's connection so the write goes out as an already prepared statement.
      expect((await stalled.post(order('warm-up@example.com'))).status).toBe(201);

      // The first request claims the key; its write (the first message carrying the e-mail) is held in the network.
      proxy.holdRequests((text) => text.includes(email));
      const first = stalled.post(order(email), { 'idempotency-key': key });
      await waitFor(() => proxy.holding() === 1, { what: "the first request's write to be held" });

      // Another request with the same key waits for the claim to be abandoned, takes it over and places the order.
      const second = await direct.post(order(email), { 'idempotency-key': key });
      const secondBody = await readJson(second);
      expect(second.status).toBe(201);
      expect(second.headers.get('idempotent-replayed')).toBeNull();

      // The held write reaches PostgreSQL now, long after its claim was taken over.
      proxy.releaseHeld();
      const late = await first;
      expect(late.status).toBe(201);
      expect((await readJson(late)).id).toBe(secondBody.id);
      expect(late.headers.get('idempotent-replayed')).toBe('true');
      expect((await ordersFor(email)).map((row) => row.id)).toEqual([secondBody.id]);
      expect(await keyRow(key)).toMatchObject({ order_id: secondBody.id, response_status: 201, response_body: secondBody });
    } finally {
      proxy.stop();
    }
  });

  // Regression (issue 18, 2): a taken-over request that ended in 422 deleted the new holder's claim.
  it("a release by a request that lost the key leaves the new holder's claim alone", async () => {
    const key = `release-fenced-${process.pid}`;
    const options = { key, fingerprint: 'f', ttlHours: 24, waitMs: 10, ...keyTiming(1000) };
    const [old, current] = [Bun.randomUUIDv7(), Bun.randomUUIDv7()];
    expect(await claimIdempotencyKey(admin, { ...options, holder: old })).toEqual({ kind: 'owned', linked: false });
    await admin`update idempotency_keys set locked_at = now() - interval '1 hour' where key = ${key}`;
    expect(await claimIdempotencyKey(admin, { ...options, holder: current })).toEqual({ kind: 'owned', linked: false });
    await releaseIdempotencyKey(admin, key, old);
    expect((await admin`select locked_by from idempotency_keys where key = ${key}`)[0]).toEqual({ locked_by: current });
    await releaseIdempotencyKey(admin, key, current);
    expect(await admin`select 1 from idempotency_keys where key = ${key}`).toHaveLength(0);
  });
});

describe('a statement that runs into statement_timeout', () => {
  // Regression (issue 18, 7): 57014 answered 500.
  it('answers 503 with Retry-After, and no order stands behind it', async () => {
    const { get, post } = await spawnApi(tdb.url, 'idem_faults', { DB_STATEMENT_TIMEOUT_MS: '300', DB_RETRY_BUDGET_MS: '500' });
    const locker = await admin.reserve();
    try {
      await locker`begin`;
      await locker`lock table menu_items in access exclusive mode`;
      for (const res of [await get('/menu'), await post(order('timed-out@example.com'))]) {
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).not.toBeNull();
        expect((await readJson(res)).error.code).toBe('service_unavailable');
      }
    } finally {
      await locker`rollback`;
      locker.release();
    }
    expect(await ordersFor('timed-out@example.com')).toHaveLength(0);
  });
});

describe('an outage longer than the retry budget, right after the write committed', () => {
  // Regression (issue 18, 8): the request spent its 2 s budget failing to reconnect and answered 503
  // for an order that existed (and went on to be paid).
  it('keeps looking until it can tell, and answers 201 with the order', async () => {
    const { proxy, url } = await proxyToDatabase();
    try {
      const { post } = await spawnApi(url, 'idem_faults', { DB_RETRY_BUDGET_MS: '500' });
      const email = 'outage-after-commit@example.com';
      let cutAt = 0;
      // The write commits; its reply is lost, every connection is cut and PostgreSQL stays unreachable.
      proxy.cutReply(
        (text) => text.includes('Margherita Pizza'),
        () => {
          cutAt = Date.now();
          proxy.setRefusing(true);
          proxy.cutAll();
        },
      );
      const response = post(order(email));
      await waitFor(() => cutAt > 0, { what: "the write's reply to be cut" });
      // The fault's length, not a wait for a result: four times the request's retry budget.
      await Bun.sleep(2000);
      proxy.setRefusing(false);
      const res = await response;
      expect(res.status).toBe(201);
      expect((await ordersFor(email)).map((row) => row.id)).toEqual([(await readJson(res)).id]);
    } finally {
      proxy.stop();
    }
  });
});
