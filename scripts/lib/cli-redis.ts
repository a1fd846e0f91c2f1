import Redis from 'ioredis';
import { redactUrl } from '../../src/shared/db/connection-error.ts';
import { exitWith } from '../../src/shared/runtime/startup.ts';

/** One connection for a command-line tool: no retries, and a clear line instead of a stack when Redis is not there. */
export async function connectOrExit(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (error) {
    redis.disconnect();
    exitWith(
      `Cannot reach Redis at ${redactUrl(url)} (${(error as Error).message}). Start one with \`redis-server --daemonize yes\` or \`docker compose up -d redis\`, or set REDIS_URL.`,
    );
  }
}
