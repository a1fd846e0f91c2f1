import { createHash } from 'node:crypto';
import type { Redis } from './redis.ts';

/**
 * A Lua script run by its SHA (EVALSHA), sent in full only when the node answers NOSCRIPT: a
 * restarted or failed-over node has an empty script cache, and on a Redis Cluster each node keeps
 * its own. Scripts called on every request (the rate limiter) then cost a 40-byte hash, not their text.
 * Unlike ioredis's defineCommand, it leaves the caller's client untouched.
 */
export function luaScript(source: string) {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    source,
    async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
        return await redis.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}
