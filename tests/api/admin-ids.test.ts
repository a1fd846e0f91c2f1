import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { isStreamId } from '../../src/shared/streams/stream-id.ts';
import { BASE, createTestApp, readJson } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis.ts';

const TOKEN = 'admin-ids-test-token-0123456';
const redis = connectRedis();
const prefix = uniquePrefix('admin_ids');
let tdb: TestDatabase;
let app: ReturnType<typeof createTestApp>['app'];

beforeAll(async () => {
  tdb = await createTestDatabase('admin_ids');
  app = createTestApp(tdb.db, { env: { ADMIN_TOKEN: TOKEN }, ops: { redis, prefix } }).app;
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
  await tdb.drop();
});

const call = (method: string, path: string) => app.handle(new Request(`${BASE}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } }));
const MAX = '18446744073709551615';

describe('dead-letter ids on the admin routes', () => {
  it('answer 400 validation_failed when a part is above 2^64-1, which Redis refuses with an error', async () => {
    for (const id of ['99999999999999999999999-0', '18446744073709551616-0', `0-18446744073709551616`, '99999999999999999999-1']) {
      for (const [method, path] of [['POST', `/admin/dead-letters/${id}/replay`], ['DELETE', `/admin/dead-letters/${id}`]] as const) {
        const res = await call(method, path);
        expect(`${method} ${path} ${res.status}`).toBe(`${method} ${path} 400`);
        expect((await readJson(res)).error.code).toBe('validation_failed');
      }
    }
  });

  it('answer 404 dead_letter_not_found for the largest id Redis takes, when nothing has it', async () => {
    for (const [method, path] of [['POST', `/admin/dead-letters/${MAX}-${MAX}/replay`], ['DELETE', `/admin/dead-letters/${MAX}-${MAX}`]] as const) {
      const res = await call(method, path);
      expect(res.status).toBe(404);
      expect((await readJson(res)).error.code).toBe('dead_letter_not_found');
    }
  });
});

describe('isStreamId', () => {
  it('takes what Redis takes as an explicit id, and nothing else', () => {
    for (const id of ['0-0', '1795614405774-3', `${MAX}-${MAX}`, '00000000000000000001-0']) expect(isStreamId(id)).toBe(true);
    for (const id of ['', '1', '1-', '-1', '1-2-3', '+', '-', '1795614405774-*', '18446744073709551616-0', `${MAX}-18446744073709551616`, ' 1-0']) {
      expect(isStreamId(id)).toBe(false);
    }
  });
});
