/**
 * `bun run bench:queue [--messages N] [--concurrency C] [--rounds R]`: the bare XREADGROUP/XACK loop
 * (the ceiling), this project's consumer runner exactly as the workers use it (one entry at a time,
 * and in batch mode), and BullMQ, each in its own process on the same Redis, with the same payload,
 * no-op handler, message count and concurrency. The contenders take turns, round after round, so a
 * burst of load from elsewhere on the machine hits one round, not one contender; each is rated by its
 * median round. The last four lines are the ratios we track, all from this run.
 *
 * `bun run bench:queue --cluster [--partitions 1,3,6]`: the runner on a throwaway Redis Cluster
 * instead, on each partition count (see queue/cluster.ts).
 */
import { parseArgs } from 'node:util';
import { machine } from './machine.ts';
import type { ContenderResult } from './queue/common.ts';
import { runClusterBench } from './queue/cluster.ts';
import { median, perSecond, runContender } from './queue/rounds.ts';

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    messages: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    'redis-url': { type: 'string', default: Bun.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0' },
    cluster: { type: 'boolean', default: false },
    partitions: { type: 'string', default: '1,3,6' },
  },
});

if (values.cluster) {
  await runClusterBench({
    messages: Number(values.messages),
    concurrency: Number(values.concurrency),
    rounds: Number(values.rounds),
    partitionCounts: values.partitions!.split(',').map(Number),
  });
} else {
  await singleRedis();
}

async function singleRedis() {
  const contenders = [
    ['bare', 'bare loop (XREADGROUP COUNT 200 + XACK per batch)'],
    ['runner-batch', 'runner, batch handler (handleBatch)'],
    ['runner', 'runner, per-entry handler (handle)'],
    ['bullmq', 'BullMQ Queue + Worker'],
  ] as const;
  type Contender = (typeof contenders)[number][0];

  const prefix = `bench:queue:${process.pid}:`;
  const rounds = Number(values.rounds);
  const results = new Map<Contender, ContenderResult[]>(contenders.map(([file]) => [file, []]));
  const info = await machine();
  console.log(
    `${values.messages} messages, concurrency ${values.concurrency}, ${rounds} rounds, ${info.cores} cores, Bun ${info.bun}, ioredis ${info.ioredis}, BullMQ ${info.bullmq}`,
  );

  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round}/${rounds}`);
    for (const [file, label] of contenders) {
      process.stdout.write(`  ${label}: running...`);
      const result = await runContender(file, ['--messages', values.messages!, '--concurrency', values.concurrency!, '--prefix', prefix, '--redis-url', values['redis-url']!]);
      results.get(file)!.push(result);
      const stop = result.stopSeconds === undefined ? '' : `   (then stop() ${Math.round(result.stopSeconds * 1000)} ms)`;
      process.stdout.write(`\r\x1b[K  ${label.padEnd(52)} enqueue ${perSecond(result.enqueuePerSecond)}   processed ${perSecond(result.processedPerSecond)}${stop}\n`);
    }
  }

  const medians = new Map(contenders.map(([file]) => [file, median(results.get(file)!.map((r) => r.processedPerSecond))]));
  console.log(`processed, median of ${rounds} rounds (lowest-highest):`);
  for (const [file, label] of contenders) {
    const all = results.get(file)!.map((r) => r.processedPerSecond);
    console.log(`  ${label.padEnd(52)} ${perSecond(medians.get(file)!)}   (${perSecond(Math.min(...all)).trim()} - ${perSecond(Math.max(...all)).trim()})`);
  }

  const over = (a: Contender, b: Contender) => medians.get(a)! / medians.get(b)!;
  const summary = {
    date: new Date().toISOString(),
    messages: Number(values.messages),
    concurrency: Number(values.concurrency),
    rounds,
    machine: info,
    results: Object.fromEntries(results),
    medianProcessedPerSecond: Object.fromEntries(medians),
    ratios: {
      batchOverBare: over('runner-batch', 'bare'),
      perEntryOverBare: over('runner', 'bare'),
      batchOverBullmq: over('runner-batch', 'bullmq'),
      perEntryOverBullmq: over('runner', 'bullmq'),
    },
  };
  const file = new URL(`results/queue-${summary.date.replaceAll(':', '-')}.json`, import.meta.url);
  await Bun.write(file, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`result: ${file.pathname.replace(`${process.cwd()}/`, '')}`);
  // The goals, on the medians: batch >= 0.85 and per-entry >= 0.7 of the bare loop, both >= 5x BullMQ.
  const ratio = (label: string, value: number, goal: number) => console.log(`${label.padEnd(18)} ${value.toFixed(2).padStart(6)}   (goal >= ${goal}${value >= goal ? '' : ', missed'})`);
  ratio('batch/bare', summary.ratios.batchOverBare, 0.85);
  ratio('per-entry/bare', summary.ratios.perEntryOverBare, 0.7);
  ratio('batch/bullmq', summary.ratios.batchOverBullmq, 5);
  ratio('per-entry/bullmq', summary.ratios.perEntryOverBullmq, 5);
}
