/** `bun run streams [--json]`: every stream, its groups and consumers, dead letters, notifications waiting and failed per channel, and the outbox backlog. */
import { parseArgs } from 'node:util';
import { createDb } from '../src/shared/db/client.ts';
import { pipelineReport } from '../src/shared/ops/stream-report.ts';
import { loadConfigOrExit, startOrExit } from '../src/shared/runtime/startup.ts';
import { connectOrExit } from './lib/cli-redis.ts';

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { json: { type: 'boolean', default: false } } });
const config = loadConfigOrExit(Bun.env);
const redis = await connectOrExit(config);
const { db, close } = createDb(config.database.url, { max: 1, applicationName: 'streams-cli' });
const report = await startOrExit(config, () => pipelineReport({ redis, db, prefix: config.streamPrefix, partitions: config.partitions.count }));
redis.disconnect();
await close();

if (values.json) {
  console.log(JSON.stringify(report, null, 2));
  process.exit(0);
}

const ms = (value: number | null) => (value === null ? '-' : value < 1000 ? `${value} ms` : `${(value / 1000).toFixed(1)} s`);
const rows: string[][] = [['STREAM', 'LENGTH', 'FIRST ID', 'LAST ID', 'GROUP', 'CONSUMERS', 'PENDING', 'LAG', 'OLDEST PENDING IDLE', 'RETRYING', 'NEXT RETRY DUE', 'WAITING SINCE']];
for (const stream of report.streams) {
  const groups = stream.groups.length > 0 ? stream.groups : [undefined];
  for (const [i, group] of groups.entries()) {
    rows.push([
      i === 0 ? stream.key : '',
      i === 0 ? String(stream.length) : '',
      i === 0 ? (stream.firstId ?? '-') : '',
      i === 0 ? (stream.lastId ?? '-') : '',
      group?.name ?? '(no group yet)',
      group ? String(group.consumers.length) : '-',
      group ? String(group.pending) : '-',
      group ? String(group.lag ?? '?') : '-',
      group ? ms(group.oldestPendingIdleMs) : '-',
      group ? String(group.retries.waiting) : '-',
      group?.retries.nextDueAt ?? '-',
      group?.retries.oldestSince ?? '-',
    ]);
  }
}
const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());

console.log('');
for (const stream of report.streams) {
  for (const group of stream.groups) {
    for (const consumer of group.consumers) {
      console.log(`consumer ${consumer.name} (${group.name} on ${stream.key}): ${consumer.pending} pending, idle ${ms(consumer.idleMs)}`);
    }
  }
}
if (report.streams.some((stream) => stream.partition !== null)) {
  console.log('');
  for (const total of report.totals) {
    console.log(`total ${total.stream} for ${total.group} over ${total.partitions} partitions: length ${total.length}, pending ${total.pending}, lag ${total.lag ?? '?'}, retrying ${total.retrying}, dead letters ${total.deadLetters}`);
  }
}
console.log(`dead letters: ${report.deadLetters.map((d) => `${d.key} ${d.length}`).join(', ')}`);
console.log(
  `deliveries: ${report.deliveries.map((d) => `${d.channel} ${d.waiting} waiting${d.oldestWaitingSince ? ` (oldest since ${d.oldestWaitingSince})` : ''}, ${d.failed} failed`).join('; ')}`,
);
console.log(`outbox: ${report.outbox.unpublished} unpublished${report.outbox.unpublished > 0 ? `, oldest ${ms(Math.round(report.outbox.oldestUnpublishedAgeMs ?? 0))}` : ''}`);
