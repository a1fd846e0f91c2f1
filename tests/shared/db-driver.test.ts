import { afterAll, describe, expect, it } from 'bun:test';
import postgres from 'postgres';
import { errorCode } from '../../src/shared/db/connection-error.ts';
import { createDb } from '../../src/shared/db/client.ts';
import { TEST_SERVER_URL } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

/**
 * The driver under session kills, on its own: postgres.js 3.4.9 as patched in patches/ and configured
 * by createDb. Each of these made the API answer 503s under kills (tests/api/db-faults.test.ts), by
 * spending a request's whole retry budget waiting:
 * - a session that died while a write was buffered left its pooled connection unable to send again:
 *   every reconnect ended in CONNECT_TIMEOUT, for good;
 * - a connection closed with a socket error left the queries handed to it since that error unsettled, for good;
 * - the driver's own reconnect backoff grows to 10-20 s after a few failed connects (createDb sets ours).
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
