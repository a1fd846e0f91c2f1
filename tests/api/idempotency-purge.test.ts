import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { startSystem, type System } from '../../scripts/lib/start-system.ts';
import { purgeExpiredIdempotencyKeys } from '../../src/api/services/idempotency.ts';
import type { Database } from '../../src/shared/db/client.ts';
import { createTestDatabase, TEST_SERVER_URL, type TestDatabase } from '../helpers/db.ts';
import { killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { TEST_REDIS_URL } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

let tdb: TestDatabase;
let system: System<RunningService>;

beforeAll(async () => {
  tdb = await createTestDatabase('idempotency_purge');
  system = await startSystem({ label: 'test_idempotency_purge_api', databaseServerUrl: TEST_SERVER_URL, redisUrl: TEST_REDIS_URL, spawnService });
});
afterAll(async () => {
  await killAll();
  await system.stop();
  await tdb.drop();
});

/** `count` stored responses under `label`, created `hoursAgo` hours ago. */
async function storeKeys(db: Database, label: string, count: number, hoursAgo: number) {
  await db.execute(sql`
    insert into idempotency_keys (key, request_fingerprint, response_status, response_body, created_at)
    select ${label} || '-' || i, 'fingerprint', 201, '{}'::jsonb, now() - make_interval(hours => ${hoursAgo})
    from generate_series(1, ${count}) as i`);
}

async function keysLeft(db: Database, label: string): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`select count(*)::int as n from idempotency_keys where key like ${label + '-%'}`);
  return row!.n;
}

describe('purging expired Idempotency-Keys', () => {
  it('deletes them in statements of at most batchSize keys, until none is left', async () => {
    await storeKeys(tdb.db, 'expired', 2_500, 25);
    await storeKeys(tdb.db, 'fresh', 30, 23);
    const batches: number[] = [];

    const removed = await purgeExpiredIdempotencyKeys(tdb.db, 24, { batchSize: 1_000, onBatch: (n) => batches.push(n) });

    expect(removed).toBe(2_500);
    expect(batches).toEqual([1_000, 1_000, 500]);
    expect(await keysLeft(tdb.db, 'expired')).toBe(0);
    expect(await keysLeft(tdb.db, 'fresh')).toBe(30);
  });

  it('stops after one statement when there is nothing to delete', async () => {
    const batches: number[] = [];
    expect(await purgeExpiredIdempotencyKeys(tdb.db, 24, { batchSize: 1_000, onBatch: (n) => batches.push(n) })).toBe(0);
    expect(batches).toEqual([0]);
  });

  it('runs when the API starts, not an hour later', async () => {
    await storeKeys(system.db, 'left-by-last-run', 1_500, 48);
    const api = await system.spawn('api');
    const line = await api.waitForLine((l) => l.msg === 'purged expired idempotency keys', 'the start-up purge', 15_000);
    expect(line.removed).toBe(1_500);
    await waitFor(async () => (await keysLeft(system.db, 'left-by-last-run')) === 0, { what: 'the expired keys to be gone' });
  });
});
