import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from '../../scripts/lib/spawn-service.ts';
import { waitFor } from './wait-for.ts';

/** The shared Redis the tests use; each test file works under its own key prefix. */
export const TEST_REDIS_URL = Bun.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export function uniquePrefix(label: string): string {
  return `test:${label}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
}

/** A plain connection for the test's own commands (not fail-fast, unlike the services'). */
export function connectRedis(url = TEST_REDIS_URL): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: false });
  // Some tests stop this Redis on purpose; ioredis reconnects, and the commands themselves report failures.
  redis.on('error', () => {});
  return redis;
}

export { deleteKeysWithPrefix as deleteKeys } from '../../src/shared/runtime/redis.ts';

export { freePort } from '../../scripts/lib/spawn-service.ts';

/**
 * A throwaway redis-server of the test's own, for tests that stop, restart or wipe Redis
 * without disturbing any other test file.
 */
export async function startPrivateRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'orders-redis-'));
  const url = `redis://127.0.0.1:${port}/0`;
  let proc: ReturnType<typeof Bun.spawn> | undefined;

  async function start() {
    proc = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdout: 'ignore',
      stderr: 'ignore',
    });
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // Refused connections are expected until the server is up; the ping below is the real check.
    probe.on('error', () => {});
    try {
      await waitFor(async () => {
        try {
          if (probe.status !== 'ready') await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          probe.disconnect();
          return false;
        }
      }, { what: `redis-server on port ${port}` });
    } finally {
      probe.disconnect();
    }
  }

  async function stop() {
    if (!proc) return;
    proc.kill('SIGKILL');
    await proc.exited;
    proc = undefined;
  }

  await start();
  return {
    url,
    port,
    start,
    stop,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
