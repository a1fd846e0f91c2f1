import { afterAll, describe, expect, it } from 'bun:test';
import postgres from 'postgres';
import { errorCode } from '../../src/shared/db/connection-error.ts';
import { createDb } from '../../src/shared/db/client.ts';
import { createTestDatabase, TEST_SERVER_URL } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';

allowSlowTests();

/**
 * The driver under session kills, on its own: postgres.js 3.4.9 as patched in patches/ and configured
 * by createDb. Each of these made the API answer 503s under kills (tests/api/db-faults.test.ts), by
 * spending a request's whole retry budget waiting:
 * - a session that died while a write was buffered left its pooled connection unable to send again:
 *   every reconnect ended in CONNECT_TIMEOUT, for good;
 * - a connection closed with a socket error left the queries handed to it since that error unsettled, for good;
 * - the driver's own reconnect backoff grows to 10-20 s after a few failed connects (createDb sets ours).
 * And one that made a caller retry a write that had committed: a session ended during the driver's
 * start-up types query left that query and its 57P01 behind, and they rejected a query the next session ran.
 */
const APPLICATION = `driver_kills_${process.pid}`;
/** Far past any answer or error under these kills, far below the waits the defects caused (10-20 s, or for good). */
const QUERY_DEADLINE_MS = 5_000;
const killer = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} });
afterAll(() => killer.end());

async function killSessions(): Promise<number> {
  const rows = await killer`select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = ${APPLICATION}`;
  return rows.filter((row) => row.killed).length;
}

describe('postgres.js under session kills', () => {
  it('never times out a connect, and every pooled connection answers again once the kills stop', async () => {
    const POOL = 4;
    const database = createDb(TEST_SERVER_URL, { max: POOL, connectTimeoutSeconds: 2, applicationName: APPLICATION });
    try {
      const errors = new Map<string, number>();
      let answered = 0;
      let kills = 0;
      const until = Date.now() + 4_000;
      // Eight queries per connection in flight, so a kill usually lands while a write is still buffered.
      const clients = Array.from({ length: POOL * 8 }, async () => {
        while (Date.now() < until) {
          const settled = database.sql`select 1`.then(
            () => 'answered' as const,
            (error: unknown) => errorCode(error) ?? 'unknown',
          );
          const outcome = await Promise.race([settled, Bun.sleep(QUERY_DEADLINE_MS).then(() => 'still waiting' as const)]);
          if (outcome === 'answered') answered++;
          else errors.set(outcome, (errors.get(outcome) ?? 0) + 1);
        }
      });
      const killing = (async () => {
        while (Date.now() < until) {
          kills += await killSessions();
          await Bun.sleep(50 + Math.random() * 100);
        }
      })();
      await Promise.all([...clients, killing]);

      expect(kills).toBeGreaterThan(10);
      expect(answered).toBeGreaterThan(0);
      // The kills themselves end queries (57P01, closed connections), at once: none waits on a connect
      // that cannot be sent, a reconnect delay of many seconds, or a connection that closed without settling it.
      expect(errors.get('CONNECT_TIMEOUT') ?? 0).toBe(0);
      expect(errors.get('still waiting') ?? 0).toBe(0);
      // Every connection of the pool comes back: POOL * 4 queries at once, each on a live session.
      await waitFor(
        async () => {
          const results = await Promise.allSettled(Array.from({ length: POOL * 4 }, () => database.sql`select pg_backend_pid() as pid`));
          return results.every((result) => result.status === 'fulfilled');
        },
        { what: 'every pooled connection answering again', timeoutMs: 5_000 },
      );
    } finally {
      await database.close();
    }
  });
});

describe('a session ended during the driver\'s start-up', () => {
  it('starts a new session for the waiting writes and never fails a write that committed', async () => {
    const tdb = await createTestDatabase('driver_startup', { migrate: false });
    await tdb.sql`create table startup_writes (id int primary key)`;
    const target = new URL(tdb.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const application = `driver_startup_${process.pid}`;
    try {
      for (let round = 0; round < 3; round++) {
        // A fresh pool: its first connect runs the driver's array-types query before any of ours.
        const database = createDb(`postgres://${target.username}@127.0.0.1:${proxy.port}${target.pathname}`, {
          max: 1,
          connectTimeoutSeconds: 2,
          applicationName: application,
        });
        try {
          // The types query is held at the proxy, so the session is idle in its start-up when it is ended.
          proxy.holdRequests((text) => text.includes('typarray'));
          // The first write opens the connection and waits for its start-up; the others queue in the pool
          // and are handed to that connection once it is ready.
          const ids = [1, 2, 3].map((n) => round * 10 + n);
          const writes = ids.map((id) =>
            database.sql`insert into startup_writes (id) values (${id})`.then(
              () => 'committed' as const,
              (error: unknown) => errorCode(error) ?? String(error),
            ),
          );
          await waitFor(() => proxy.holding() === 1, { what: 'the start-up types query held at the proxy', timeoutMs: 5_000 });
          const killed = await killer`select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = ${application}`;
          expect(killed.map((row) => row.killed)).toEqual([true]);

          const outcomes = await Promise.all(writes);
          const stored = new Set((await tdb.sql`select id from startup_writes where id = any(${ids})`).map((row) => row.id as number));
          // A write is reported committed exactly when its row exists: never an error for a write that ran,
          // which its caller would retry, nor success for one that did not.
          const told = ids.map((id, i) => ({ id, committed: stored.has(id), outcome: outcomes[i] }));
          expect(told.filter(({ committed, outcome }) => committed !== (outcome === 'committed'))).toEqual([]);
          // None of them was sent to the ended session: the connection starts a new one for the write it
          // was opened for, and the others are handed to it once that one is ready.
          expect(outcomes).toEqual(['committed', 'committed', 'committed']);
          // The connection serves again, arrays parsed (the types were fetched on the new session).
          expect([...(await database.sql`select array[1, 2]::int4[] as xs`)]).toEqual([{ xs: [1, 2] }]);
        } finally {
          await database.close();
        }
      }
    } finally {
      proxy.stop();
      await tdb.drop();
    }
  });
});

describe('a connection whose session died', () => {
  it('ends at once when its pool is closed', async () => {
    const sql = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} });
    await sql`select pg_terminate_backend(pg_backend_pid())`.catch((error: unknown) => error);
    // Unpatched, the dead session's query stayed on the connection, and end() waited for it for good.
    const ended = sql.end().then(() => 'ended' as const);
    expect(await Promise.race([ended, Bun.sleep(QUERY_DEADLINE_MS).then(() => 'still waiting' as const)])).toBe('ended');
  });

  it('gives the next query only its own rows when a result was cut mid-way', async () => {
    const target = new URL(TEST_SERVER_URL);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    // Without the types query, the next session's first query is ours, and it met the dead one's row count.
    const sql = postgres(`postgres://${target.username}@127.0.0.1:${proxy.port}${target.pathname}`, { max: 1, onnotice: () => {}, fetch_types: false });
    try {
      await sql`select 1`;
      let replies = 0;
      // The first chunk of rows reaches the driver, the second is dropped and the connection cut.
      proxy.cutReply((text) => text.includes('row-of-many') && ++replies === 2);
      expect(errorCode(await sql`select 'row-of-many ' || g as r from generate_series(1, 100000) g`.catch((error: unknown) => error))).toBe('CONNECTION_CLOSED');
      expect(proxy.cutDone()).toBe(true);
      expect([...(await sql`select 1 as one`)]).toEqual([{ one: 1 }]);
    } finally {
      await sql.end({ timeout: 1 });
      proxy.stop();
    }
  });
});
