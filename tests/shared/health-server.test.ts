import { afterAll, afterEach, describe, expect, it } from 'bun:test';
import type { Server } from 'bun';
import Redis from 'ioredis';
import { startHealthServer } from '../../src/shared/runtime/health-server.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createShutdownFlag } from '../../src/shared/runtime/probes.ts';
import { captureLines } from '../helpers/log-capture.ts';
import { connectRedis, freePort } from '../helpers/redis.ts';

// A worker's health server on a real port, with real Redis checks: one that answers, one on a port nobody listens on.
const redis = connectRedis();
const nobody = new Redis(`redis://127.0.0.1:${await freePort()}/0`, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
nobody.on('error', () => {});
let server: Server<undefined> | undefined;
afterEach(() => server?.stop(true));
afterAll(() => {
  redis.disconnect();
  nobody.disconnect();
});

function start(checks: Record<string, () => Promise<unknown>>, shutdown = createShutdownFlag()) {
  const log = createLogger({ service: 'test', level: 'error', destination: captureLines().stream });
  server = startHealthServer({ port: 0, log, checks, details: () => ({ consumer: { state: 'running' } }), shutdown });
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${server!.port}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return { get, shutdown };
}

describe("a worker's health server", () => {
  it('answers live and ready with 200 when its dependencies answer, and keeps /health as it was', async () => {
    const { get } = start({ redis: () => redis.ping() });
    expect(await get('/health/live')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await get('/health/ready')).toEqual({ status: 200, body: { status: 'ok', checks: { redis: 'ok' } } });
    expect(await get('/health')).toEqual({ status: 200, body: { status: 'ok', checks: { redis: 'ok' }, consumer: { state: 'running' } } });
  });

  it('stays live while a dependency is down, and is not ready, naming the check', async () => {
    const { get } = start({ redis: () => redis.ping(), cache: () => nobody.connect().then(() => nobody.ping()) });
    expect(await get('/health/live')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await get('/health/ready')).toEqual({ status: 503, body: { status: 'unavailable', checks: { redis: 'ok', cache: 'error' } } });
    expect((await get('/health')).status).toBe(503);
  });

  it('answers 503 on both probes once shutdown is requested, without asking its dependencies', async () => {
    let asked = 0;
    const { get, shutdown } = start({ redis: () => (asked++, redis.ping()) });
    shutdown.request();
    expect(await get('/health/live')).toEqual({ status: 503, body: { status: 'shutting_down' } });
    expect(await get('/health/ready')).toEqual({ status: 503, body: { status: 'shutting_down', checks: {} } });
    expect(asked).toBe(0);
  });
});
