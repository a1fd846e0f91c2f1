/**
 * `bun run bench:queue --cluster`: the consumer runner on a throwaway Redis Cluster (3 masters, 3
 * replicas, started on this machine and removed at the end), as a worker runs it with
 * STREAM_PARTITIONS: one runner per partition (queue/runner-partitioned.ts), on 1 partition and on
 * several, with the batch and the per-entry handler. Partition counts and handlers take turns, round
 * after round, and each is rated by its median round; the ratios are to 1 partition, same handler.
 */
import { startLocalRedisCluster } from '../../scripts/lib/redis-cluster.ts';
import { streamKey, TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { machine } from '../machine.ts';
import type { ContenderResult } from './common.ts';
import { median, perSecond, runContender } from './rounds.ts';

export interface ClusterBenchOptions {
  messages: number;
  /** Per runner, as CONSUMER_CONCURRENCY is per partition's runner in a worker. */
  concurrency: number;
  rounds: number;
  partitionCounts: number[];
}

const HANDLERS = [
  ['batch', 'batch handler'],
  ['entry', 'per-entry handler'],
] as const;

export async function runClusterBench({ messages, concurrency, rounds, partitionCounts }: ClusterBenchOptions): Promise<void> {
  const info = await machine();
  const redisVersion = (await Bun.$`redis-server --version`.text()).match(/v=(\S+)/)?.[1] ?? 'unknown';
  console.log(
    `${messages} messages, concurrency ${concurrency} per runner, ${rounds} rounds, partitions ${partitionCounts.join(', ')}; ${info.cores} cores, Bun ${info.bun}, ioredis ${info.ioredis}, Redis ${redisVersion}`,
  );
  console.log('starting a Redis Cluster of 3 masters and 3 replicas on this machine...');
  const cluster = await startLocalRedisCluster({ masters: 3 });
  // Ctrl-C still removes the cluster.
  const onSignal = () => void cluster.destroy().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const prefix = `bench:queue:${process.pid}:`;
    // Where the partitions land: a partition's slot comes from its hash tag, so several may share a master.
    for (const count of partitionCounts) {
      const masters = await Promise.all(Array.from({ length: count }, (_, p) => cluster.masterFor(streamKey(prefix, TOPOLOGY.OrderPlaced.stream, p))));
      console.log(`  ${count} partition(s) on ${new Set(masters.map((m) => m.port)).size} of 3 masters`);
    }

    const label = (handler: string, count: number) => `${HANDLERS.find(([h]) => h === handler)![1]}, ${count} partition(s)`;
    const results = new Map<string, ContenderResult[]>();
    for (let round = 1; round <= rounds; round++) {
      console.log(`round ${round}/${rounds}`);
      for (const [handler] of HANDLERS) {
        for (const count of partitionCounts) {
          const name = label(handler, count);
          process.stdout.write(`  ${name}: running...`);
          const result = await runContender('runner-partitioned', [
            '--messages', String(messages), '--concurrency', String(concurrency), '--prefix', prefix,
            '--cluster-nodes', cluster.seeds, '--partitions', String(count), '--handler', handler,
          ]);
          results.set(name, [...(results.get(name) ?? []), result]);
          process.stdout.write(`\r\x1b[K  ${name.padEnd(36)} enqueue ${perSecond(result.enqueuePerSecond)}   processed ${perSecond(result.processedPerSecond)}\n`);
        }
      }
    }

    const medians = new Map([...results].map(([name, all]) => [name, median(all.map((r) => r.processedPerSecond))]));
    console.log(`processed, median of ${rounds} rounds (lowest-highest), and the ratio to ${partitionCounts[0]} partition(s), same handler:`);
    const ratios: Record<string, number> = {};
    for (const [handler] of HANDLERS) {
      const base = medians.get(label(handler, partitionCounts[0]!))!;
      for (const count of partitionCounts) {
        const name = label(handler, count);
        const all = results.get(name)!.map((r) => r.processedPerSecond);
        const ratio = medians.get(name)! / base;
        ratios[name] = ratio;
        console.log(`  ${name.padEnd(36)} ${perSecond(medians.get(name)!)}   (${perSecond(Math.min(...all)).trim()} - ${perSecond(Math.max(...all)).trim()})   x${ratio.toFixed(2)}`);
      }
    }
    const summary = {
      date: new Date().toISOString(),
      mode: 'cluster',
      messages,
      concurrency,
      rounds,
      partitionCounts,
      machine: { ...info, redis: redisVersion },
      results: Object.fromEntries(results),
      medianProcessedPerSecond: Object.fromEntries(medians),
      ratiosToFirstCount: ratios,
    };
    const file = new URL(`../results/queue-cluster-${summary.date.replaceAll(':', '-')}.json`, import.meta.url);
    await Bun.write(file, `${JSON.stringify(summary, null, 2)}\n`);
    console.log(`result: ${file.pathname.replace(`${process.cwd()}/`, '')}`);
    console.log(`the cluster's ${cluster.nodes.length} redis-server processes share this machine's ${info.cores} cores with the runners: a bound of the machine, not of the cluster`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cluster.destroy();
  }
}
