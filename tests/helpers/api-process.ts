import { postJson } from './app.ts';
import { spawnService } from './processes.ts';
import { freePort, TEST_REDIS_URL, uniquePrefix } from './redis.ts';
import { waitFor } from './wait-for.ts';

/**
 * A real API process on a test's database (its URL may point through a TCP proxy), its Redis keys
 * under their own prefix. No background transaction of the relay or the reconciler runs while a test
 * watches the order's write: their intervals are pushed out of the way.
 */
export async function spawnApi(databaseUrl: string, label: string, env: Record<string, string> = {}) {
  const port = await freePort();
  const api = spawnService('api', {
    DATABASE_URL: databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    STREAM_PREFIX: uniquePrefix(label),
    PORT: String(port),
    RELAY_INTERVAL_MS: '600000',
    RECONCILE_AFTER_MS: '600000',
    OUTBOX_RETENTION_MS: '600000',
    ...env,
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status === 200, { what: 'the api', timeoutMs: 20_000 });
  const url = `http://127.0.0.1:${port}`;
  return {
    api,
    url,
    post: (body: unknown, headers: Record<string, string> = {}) => fetch(`${url}/orders`, postJson('/orders', body, headers)),
    get: (path: string) => fetch(`${url}${path}`),
  };
}
