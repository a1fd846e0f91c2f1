import type { Cluster, Redis as RedisNode } from 'ioredis';

/** The client the library talks through (ioredis): one Redis node, or a Redis Cluster. */
export type Redis = RedisNode | Cluster;

/** The stream or its consumer group is gone (Redis restarted empty, failed over, or was flushed). */
export function isNoGroupError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOGROUP');
}
