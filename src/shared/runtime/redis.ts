import Redis from 'ioredis';
import { backoffDelay } from '../streams/backoff.ts';
import type { Logger } from './log.ts';

export type { Redis };

export interface RedisOptions {
  /** Shows in `CLIENT LIST`, so operators can tell our connections apart. */
  connectionName: string;
  log: Logger;
  /** No reply within this long fails the command (REDIS_COMMAND_TIMEOUT_MS); undefined: wait forever. */
  commandTimeoutMs?: number;
  /** For the connection that only blocks in XREADGROUP: the longest BLOCK it sends, added to the timeout. */
  blockMs?: number;
}

/** Reconnect delays: the project's one backoff policy, from 100 ms up to 2 s. */
const RECONNECT_BACKOFF = { baseMs: 100, maxMs: 2000, jitter: 'equal' } as const;

/**
 * A connection that fails fast while Redis is away instead of queueing commands in memory:
 * callers (the relay, the consumer loop) retry on their own schedule and report unhealthy
 * meanwhile. ioredis keeps reconnecting in the background with capped backoff.
 *
 * With a command timeout, a path that silently drops packets cannot hang a caller: each command
 * fails after the timeout, and a socket that receives nothing for that long while commands wait is
 * torn down and reconnected (ioredis `socketTimeout`).
 */
export function createRedis(url: string, { connectionName, log, commandTimeoutMs, blockMs = 0 }: RedisOptions): Redis {
  const timeout = commandTimeoutMs === undefined ? undefined : commandTimeoutMs + blockMs;
  const redis = new Redis(url, {
    connectionName,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => backoffDelay(times, RECONNECT_BACKOFF),
    ...(timeout === undefined ? {} : { commandTimeout: timeout, socketTimeout: timeout }),
  });
  // Without a listener ioredis prints every failed reconnect as an unhandled error; log the first of each outage.
  let down = false;
  redis.on('error', (err) => {
    if (down) return;
    down = true;
    log.warn({ err: { message: err.message }, connection: connectionName }, 'redis connection error; reconnecting');
  });
  redis.on('ready', () => {
    if (down) log.info({ connection: connectionName }, 'redis connection restored');
    down = false;
  });
  return redis;
}

/** Resolves once the connection is ready, or false after `timeoutMs` (Redis may come later). */
export async function waitUntilReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}

/** Deletes every key that starts with `prefix` (SCAN, never KEYS, so Redis is not blocked). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
