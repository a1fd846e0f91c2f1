/**
 * `bun run chaos [--orders N] [--kills K] [--rate R]`: places orders while killing workers and
 * cutting their connections, with a mail server that greylists and a restaurant endpoint that fails,
 * then checks from PostgreSQL, Redis and what the mail server and the endpoint received that nothing
 * was lost, charged twice or e-mailed twice, and every paid order reached the restaurant. Exits 1 if
 * any invariant fails.
 */
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import { loadConfigOrExit } from '../src/shared/runtime/startup.ts';
import { runChaos } from './chaos/run.ts';

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    orders: { type: 'string', default: '2000' },
    kills: { type: 'string', default: '10' },
    rate: { type: 'string', default: '100' },
    'drain-timeout': { type: 'string', default: '180' },
    keep: { type: 'boolean', default: false },
    'log-dir': { type: 'string' },
  },
});
const config = loadConfigOrExit(Bun.env);
const orders = Number(values.orders);

const bar = new SingleBar(
  { format: '{phase} [{bar}] {value}/{total} placed | {settled} settled | {kills} worker kills | {cuts} connection cuts', noTTYOutput: true, notTTYSchedule: 2000, hideCursor: true },
  Presets.shades_classic,
);
bar.start(orders, 0, { phase: 'placing ', settled: 0, kills: 0, cuts: 0 });
const report = await runChaos({
  orders,
  kills: Number(values.kills),
  rate: Number(values.rate),
  databaseUrl: config.database.url,
  redisUrl: config.redisUrl,
  drainTimeoutMs: Number(values['drain-timeout']) * 1000,
  keep: values.keep,
  logDir: values['log-dir'],
  onProgress: (p) => bar.update(p.placed, { phase: p.phase.padEnd(8), settled: p.settled, kills: p.kills, cuts: p.connectionKills }),
});
bar.stop();

console.log(
  `\n${report.kills} worker SIGKILLs, ${report.clientKills} Redis connections killed, ${report.backendKills} PostgreSQL sessions terminated, ${report.seconds.toFixed(1)} s` +
    (values.keep ? `; kept database ${report.database}, streams ${report.streamPrefix}*` : ''),
);
for (const invariant of report.invariants) console.log(`${invariant.ok ? 'ok  ' : 'FAIL'} ${invariant.line}`);
process.exit(report.invariants.every((invariant) => invariant.ok) ? 0 : 1);
