import type { Consumer, ConsumerStatus } from '../streams/consumer.ts';

/** A worker process's consumers, one per partition it reads (of each group it reads), as one: started and stopped together. */
export interface PartitionedConsumer extends Consumer {
  /** Each partition's own status (partition null: the stream is not partitioned), with its group when the process reads several. */
  partitions(): { partition: number | null; group?: string; status: ConsumerStatus }[];
}

const WORST_FIRST: ConsumerStatus['state'][] = ['reconnecting', 'recovering-group', 'paused', 'starting', 'draining', 'stopped', 'running'];

/**
 * The status is the sum of the counts, and the worst state of any partition: a worker is only
 * healthy when every partition (of every group) it reads is.
 */
export function combineConsumers(consumers: { partition: number | null; group?: string; consumer: Consumer }[]): PartitionedConsumer {
  const several = new Set(consumers.map(({ group }) => group)).size > 1;
  const statuses = () => consumers.map(({ partition, group, consumer }) => ({ partition, ...(several ? { group } : {}), status: consumer.status() }));
  return {
    start: async () => {
      await Promise.all(consumers.map(({ consumer }) => consumer.start()));
    },
    async stop(timeoutMs) {
      const results = await Promise.all(consumers.map(({ consumer }) => consumer.stop(timeoutMs)));
      return { unfinished: results.reduce((sum, result) => sum + result.unfinished, 0) };
    },
    partitions: statuses,
    status() {
      const all = statuses().map(({ status }) => status);
      const worst = all.reduce((a, b) => (WORST_FIRST.indexOf(b.state) < WORST_FIRST.indexOf(a.state) ? b : a));
      const sum = (field: 'inflight' | 'processed' | 'failed' | 'deadLettered' | 'claimed') => all.reduce((total, status) => total + status[field], 0);
      return {
        state: worst.state,
        redisOk: all.every((status) => status.redisOk),
        pausedBecause: all.find((status) => status.pausedBecause)?.pausedBecause,
        inflight: sum('inflight'),
        processed: sum('processed'),
        failed: sum('failed'),
        deadLettered: sum('deadLettered'),
        claimed: sum('claimed'),
        failuresInARow: Math.max(...all.map((status) => status.failuresInARow)),
        lastError: all.find((status) => !status.redisOk && status.lastError)?.lastError ?? worst.lastError,
      };
    },
  };
}
