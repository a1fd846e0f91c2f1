import { redactUrl } from '../../src/shared/db/connection-error.ts';
import type { Config } from '../../src/shared/runtime/config.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';
import { createRedisClient, waitUntilReady, type Redis } from '../../src/shared/runtime/redis.ts';
import { exitWith } from '../../src/shared/runtime/startup.ts';

// A tool prints its own one-line error; the connection's reconnect warnings would only repeat it.
const quiet = createLogger({ service: 'cli', level: 'silent' });

/**
 * One connection for a command-line tool, to one Redis or the cluster (REDIS_CLUSTER_NODES): a clear
 * line naming the setting, instead of a stack, when it is not there.
 */
export async function connectOrExit(config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>): Promise<Redis> {
  const redis = createRedisClient({ url: config.redisUrl, clusterNodes: config.redisClusterNodes }, { connectionName: 'cli', log: quiet, commandTimeoutMs: 3000 });
  try {
    if (!(await waitUntilReady(redis, 3000))) throw new Error('no answer within 3 s');
    await redis.ping();
    return redis;
  } catch (error) {
    redis.disconnect();
    exitWith(
      config.redisClusterNodes
        ? `Cannot reach the Redis Cluster at REDIS_CLUSTER_NODES=${config.redisClusterNodes.map((n) => `${n.host}:${n.port}`).join(',')} (${(error as Error).message}).`
        : `Cannot reach Redis at ${redactUrl(config.redisUrl)} (${(error as Error).message}). Start one with \`redis-server --daemonize yes\` or \`docker compose up -d redis\`, or set REDIS_URL.`,
    );
  }
}
