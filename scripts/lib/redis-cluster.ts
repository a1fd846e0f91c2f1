import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from './spawn-service.ts';

export interface ClusterNode {
  port: number;
  proc: ReturnType<typeof Bun.spawn>;
}

export interface LocalClusterOptions {
  /** Masters, each with one replica: 2 × masters redis-server processes. */
  masters?: number;
  /** cluster-node-timeout: how soon a silent master is failed over to its replica. */
  nodeTimeoutMs?: number;
}

/** CLUSTER INFO of the node on 127.0.0.1:`port`, as a record (`cluster_state` -> `ok`). */
export async function clusterInfo(port: number): Promise<Record<string, string>> {
  return asRecord(await ask(port, (probe) => probe.cluster('INFO') as Promise<string>));
}

/** INFO replication of the node on 127.0.0.1:`port`, as a record (`role` -> `slave`, `master_link_status` -> `up`). */
async function replicationInfo(port: number): Promise<Record<string, string>> {
  return asRecord(await ask(port, (probe) => probe.info('replication')));
}

async function ask(port: number, command: (probe: Redis) => Promise<string>): Promise<string> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return await command(probe);
  } finally {
    probe.disconnect();
  }
}

/** `key:value` lines (CLUSTER INFO, INFO) as a record; `# Section` headers are skipped. */
function asRecord(text: string): Record<string, string> {
  const lines = text.split('\r\n').filter((line) => line && !line.startsWith('#'));
  return Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]));
}

/** Polls `probe` until it is true, or throws naming `what` after `timeoutMs`; a probe that throws counts as not yet. */
async function until(probe: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/**
 * A real, throwaway Redis Cluster on this machine, for tests and bench: `masters` masters with one
 * replica each (`redis-server --cluster-enabled yes` on free ports of 127.0.0.1, joined with
 * `redis-cli --cluster create`), nothing kept on disk, gone after destroy(). A short node timeout,
 * and every replica synced once before it is returned, so a killed master's replica is promoted
 * within seconds. If it cannot be built, whatever was started is removed before the error is thrown.
 */
export async function startLocalRedisCluster({ masters = 3, nodeTimeoutMs = 1500 }: LocalClusterOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'orders-cluster-'));
  const nodes: ClusterNode[] = [];
  let destroyed: Promise<void> | undefined;
  const destroy = () =>
    (destroyed ??= (async () => {
      for (const node of nodes) node.proc.kill('SIGKILL');
      await Promise.all(nodes.map((n) => n.proc.exited));
      rmSync(dir, { recursive: true, force: true });
    })());

  try {
    for (let i = 0; i < masters * 2; i++) {
      const port = await freePort();
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
      const proc = Bun.spawn(
        [
          'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
          '--cluster-config-file', join(nodeDir, 'nodes.conf'), '--cluster-node-timeout', String(nodeTimeoutMs),
          '--save', '', '--appendonly', 'no', '--dir', nodeDir,
          // Redis waits 5 s before a diskless full sync by default; the replicas' first sync is awaited below.
          '--repl-diskless-sync-delay', '0',
        ],
        { stdout: 'ignore', stderr: 'ignore' },
      );
      nodes.push({ port, proc });
    }
    for (const node of nodes) await until(async () => (await clusterInfo(node.port)) !== undefined, `cluster node ${node.port}`, 10_000);
    const create = Bun.spawn(
      ['redis-cli', '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
      { stdout: 'pipe', stderr: 'pipe' },
    );
    if ((await create.exited) !== 0) throw new Error(`redis-cli --cluster create failed: ${await new Response(create.stdout).text()}`);
    await until(
      async () => {
        for (const node of nodes) if ((await clusterInfo(node.port))['cluster_state'] !== 'ok') return false;
        return true;
      },
      'the cluster to be ok',
      30_000,
    );
    // cluster_state is ok before the replicas have synced once, and a replica that never did refuses
    // to take over ("Disconnected from master for longer than allowed", cluster-replica-validity-factor):
    // a master killed before then is never failed over, and its slots stay down.
    await until(
      async () => {
        const replication = await Promise.all(nodes.map((node) => replicationInfo(node.port)));
        return replication.filter((info) => info['role'] === 'slave' && info['master_link_status'] === 'up').length === masters;
      },
      'every replica to finish its first sync',
      30_000,
    );
  } catch (error) {
    await destroy();
    throw error;
  }

  const alive = (node: ClusterNode) => node.proc.exitCode === null && node.proc.signalCode === null;

  /** The node currently serving `key`'s slot as master, as a living node sees it. */
  async function masterFor(key: string): Promise<ClusterNode> {
    const probe = new Redis({ port: nodes.find(alive)!.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
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
    /** SIGKILLs every node and removes its files; safe to call more than once. */
    destroy,
  };
}

export type LocalRedisCluster = Awaited<ReturnType<typeof startLocalRedisCluster>>;
