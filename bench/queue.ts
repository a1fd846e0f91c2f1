/**
 * `bun run bench:queue [--messages N] [--concurrency C]`: the bare XREADGROUP/XACK loop (the
 * ceiling), this project's consumer runner exactly as the workers use it, and BullMQ, each in its
 * own process on the same Redis, with the same payload, no-op handler, message count and concurrency.
 * The last two lines are the ratios we track.
 */
import { parseArgs } from 'node:util';
import { forEachLine } from '../scripts/lib/read-lines.ts';
import { machine } from './machine.ts';
import type { ContenderResult } from './queue/common.ts';

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    messages: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '200' },
    'redis-url': { type: 'string', default: Bun.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0' },
  },
});

const contenders = [
  ['bare', 'bare loop (XREADGROUP COUNT 200 + XACK per batch)'],
  ['runner', 'runner (src/shared/streams/consumer.ts)'],
  ['bullmq', 'BullMQ Queue + Worker'],
] as const;

const prefix = `bench:queue:${process.pid}:`;
const results = new Map<string, ContenderResult>();
const info = await machine();
console.log(`${values.messages} messages, concurrency ${values.concurrency}, ${info.cores} cores, Bun ${info.bun}, ioredis ${info.ioredis}, BullMQ ${info.bullmq}`);

for (const [file, label] of contenders) {
  process.stdout.write(`${label}: running...`);
  const proc = Bun.spawn(
    [process.execPath, new URL(`queue/${file}.ts`, import.meta.url).pathname, '--messages', values.messages!, '--concurrency', values.concurrency!, '--prefix', prefix, '--redis-url', values['redis-url']!],
    { stdout: 'pipe', stderr: 'inherit' },
  );
  let last = '';
  await forEachLine(proc.stdout, (line) => {
    if (line.trim()) last = line;
  });
  if ((await proc.exited) !== 0) {
    console.error(`\n${label} failed`);
    process.exit(1);
  }
  const result = JSON.parse(last) as ContenderResult;
  results.set(file, result);
  process.stdout.write(
    `\r\x1b[K${label.padEnd(52)} enqueue ${Math.round(result.enqueuePerSecond).toLocaleString('en').padStart(9)}/s   processed ${Math.round(result.processedPerSecond).toLocaleString('en').padStart(9)}/s\n`,
  );
}

const perSecond = (name: string) => results.get(name)!.processedPerSecond;
const summary = {
  date: new Date().toISOString(),
  messages: Number(values.messages),
  concurrency: Number(values.concurrency),
  machine: info,
  results: Object.fromEntries(results),
  ratios: { runnerOverBullmq: perSecond('runner') / perSecond('bullmq'), runnerOverCeiling: perSecond('runner') / perSecond('bare') },
};
const file = new URL(`results/queue-${summary.date.replaceAll(':', '-')}.json`, import.meta.url);
await Bun.write(file, `${JSON.stringify(summary, null, 2)}\n`);
console.log(`result: ${file.pathname.replace(`${process.cwd()}/`, '')}`);
console.log(`runner/bullmq processed per second: ${summary.ratios.runnerOverBullmq.toFixed(2)}`);
console.log(`runner/ceiling processed per second: ${summary.ratios.runnerOverCeiling.toFixed(2)}`);
