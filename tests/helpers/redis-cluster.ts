import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from '../../scripts/lib/spawn-service.ts';
import { waitFor } from './wait-for.ts';

export interface ClusterNode {
  port: number;
  proc: ReturnType<typeof Bun.spawn>;
}

async function clusterInfo(port: number): Promise<Record<string, string>> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    const text = (await probe.cluster('INFO')) as string;
    return Object.fromEntries(text.split('\r\n').filter(Boolean).map((line) => line.split(':') as [string, string]));
  } finally {
    probe.disconnect();
  }
}

/**
 * A real Redis Cluster of its own for a test: `masters` masters with one replica each
 * (`redis-server --cluster-enabled yes` on free ports, joined with `redis-cli --cluster create`),
 * nothing kept on disk, torn down by destroy(). A short node timeout, so a killed master's replica
 * is promoted within seconds.
 */
export async function startRedisCluster({ masters = 3, nodeTimeoutMs = 1500 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'orders-cluster-'));
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < masters * 2; i++) {
    const port = await freePort();
    const nodeDir = join(dir, String(port));
    await Bun.$`mkdir -p ${nodeDir}`.quiet();
    const proc = Bun.spawn(
      [
        'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', join(nodeDir, 'nodes.conf'), '--cluster-node-timeout', String(nodeTimeoutMs),
        '--save', '', '--appendonly', 'no', '--dir', nodeDir,
      ],
      { stdout: 'ignore', stderr: 'ignore' },
    );
    nodes.push({ port, proc });
  }
  for (const node of nodes) await waitFor(async () => (await clusterInfo(node.port).catch(() => undefined)) !== undefined, { what: `cluster node ${node.port}` });
  const create = Bun.spawn(
    ['redis-cli', '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
    { stdout: 'pipe', stderr: 'pipe' },
  );
  if ((await create.exited) !== 0) throw new Error(`redis-cli --cluster create failed: ${await new Response(create.stdout).text()}`);
  await waitFor(
    async () => {
      for (const node of nodes) if ((await clusterInfo(node.port))['cluster_state'] !== 'ok') return false;
      return true;
    },
    { what: 'the cluster to be ok', timeoutMs: 30_000 },
  );

  /** The node currently serving `key`'s slot as master. */
  async function masterFor(key: string): Promise<ClusterNode> {
    const probe = new Redis({ port: nodes[0]!.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      const slot = Number(await probe.cluster('KEYSLOT', key));
      const ranges = (await probe.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
      const range = ranges.find(([from, to]) => slot >= from && slot <= to)!;
      return nodes.find((n) => n.port === range[2][1])!;
    } finally {
      probe.disconnect();
    }
  }

  return {
    nodes,
    /** REDIS_CLUSTER_NODES for the services: every node as a seed. */
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    masterFor,
    clusterInfo,
    async kill(node: ClusterNode) {
      node.proc.kill('SIGKILL');
      await node.proc.exited;
    },
    async destroy() {
      for (const node of nodes) node.proc.kill('SIGKILL');
      await Promise.all(nodes.map((n) => n.proc.exited));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type RedisClusterUnderTest = Awaited<ReturnType<typeof startRedisCluster>>;
