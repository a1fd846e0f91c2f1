import IORedis, { Cluster } from 'ioredis';
import { backoffDelay } from '../backoff/backoff.ts';
import type { Logger } from './log.ts';

/** A connection to one Redis node, or to a Redis Cluster (REDIS_CLUSTER_NODES). */
export type Redis = IORedis | Cluster;

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
export function createRedis(url: string, options: RedisOptions): IORedis {
  return logOutages(new IORedis(url, nodeOptions(options)), options);
}

function nodeOptions(options: RedisOptions) {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => backoffDelay(times, RECONNECT_BACKOFF),
    ...connectionOptions(options),
  };
}

/** What every connection gets, a single node's or each of a cluster client's: its name and timeouts. */
function connectionOptions({ connectionName, commandTimeoutMs, blockMs = 0 }: RedisOptions) {
  const timeout = commandTimeoutMs === undefined ? undefined : commandTimeoutMs + blockMs;
  return { connectionName, ...(timeout === undefined ? {} : { commandTimeout: timeout, socketTimeout: timeout }) };
}

/** Where the services' Redis is: one node (REDIS_URL), or a Redis Cluster (REDIS_CLUSTER_NODES seeds; REDIS_URL then carries only the password). */
export interface RedisTarget {
  url: string;
  clusterNodes?: readonly { host: string; port: number }[];
}

/**
 * A connection to the services' Redis, one node or a cluster. With a cluster, ioredis's cluster
 * client routes each command to the node serving its key's slot, follows MOVED/ASK redirections
 * and picks up a replica promoted after a failover; our keys put each partition's stream, groups
 * and dead-letter stream in one slot (see streamKey), so every MULTI and pipeline stays on one node.
 *
 * A cluster client never reconnects to a node: ioredis gives its node connections no retryStrategy
 * (and an offline queue), so a dead master's connection ends, its commands are retried on another
 * node, and the MOVED or CLUSTERDOWN they get re-reads the slot map until the promoted replica is in
 * it. A retryStrategy or offline-queue setting in `redisOptions` would be overridden, so none is given.
 */
export function createRedisClient({ url, clusterNodes }: RedisTarget, options: RedisOptions): Redis {
  if (!clusterNodes) return createRedis(url, options);
  const { password, username } = new URL(url);
  const cluster = new Cluster([...clusterNodes], {
    enableOfflineQueue: false,
    // A failover takes the cluster a few seconds: keep trying the slot map rather than failing at once.
    clusterRetryStrategy: (times) => backoffDelay(times, RECONNECT_BACKOFF),
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    redisOptions: {
      ...connectionOptions(options),
      ...(password ? { password: decodeURIComponent(password) } : {}),
      ...(username ? { username: decodeURIComponent(username) } : {}),
    },
  });
  return logOutages(cluster, options);
}

function logOutages<Client extends Redis>(redis: Client, { connectionName, log }: RedisOptions): Client {
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

/** Deletes every key that starts with `prefix` (SCAN, never KEYS, so Redis is not blocked); on a cluster, on every master. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  if (redis instanceof Cluster) {
    await Promise.all(redis.nodes('master').map((node) => deleteKeysWithPrefix(node, prefix)));
    return;
  }
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    // One DEL per key: on a cluster node, keys of one call may sit in different slots.
    if (keys.length > 0) await Promise.all(keys.map((key) => redis.del(key)));
    cursor = next;
  } while (cursor !== '0');
}

/**
 * For entry points with REDIS_CLUSTER_NODES: waits for the cluster client to load the slot map and
 * checks the cluster reports itself ok; otherwise throws an error that names the setting and says
 * what was found (nothing answering, a node without cluster support, a cluster that is down).
 * A single Redis is not checked: the services ride out its absence.
 */
export async function assertClusterReady(redis: Redis, target: RedisTarget, timeoutMs = 10_000): Promise<void> {
  if (!(redis instanceof Cluster) || !target.clusterNodes) return;
  const seeds = target.clusterNodes.map((node) => `${node.host}:${node.port}`).join(',');
  let lastError = '';
  const remember = (error: Error & { lastNodeError?: Error }) => {
    lastError = error.lastNodeError?.message ?? error.message;
  };
  redis.on('error', remember);
  try {
    if (!(await waitUntilReady(redis, timeoutMs))) {
      const hint = /cluster support disabled/i.test(lastError) ? 'a seed is a Redis without cluster support (cluster-enabled no)' : lastError || 'no node answered';
      throw new Error(`REDIS_CLUSTER_NODES=${seeds}: no usable Redis Cluster within ${timeoutMs} ms: ${hint}`);
    }
    const info = String(await redis.cluster('INFO'));
    if (!info.includes('cluster_state:ok')) throw new Error(`REDIS_CLUSTER_NODES=${seeds}: the cluster reports ${info.match(/cluster_state:\w+/)?.[0] ?? 'no state'}`);
  } finally {
    redis.off('error', remember);
  }
}
