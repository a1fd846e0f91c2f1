/**
 * A real Redis Cluster of its own for a test file: the throwaway cluster of scripts/lib/redis-cluster.ts
 * (shared with bench), under the names the tests use.
 */
export { type ClusterNode, startLocalRedisCluster as startRedisCluster, type LocalRedisCluster as RedisClusterUnderTest } from '../../scripts/lib/redis-cluster.ts';
