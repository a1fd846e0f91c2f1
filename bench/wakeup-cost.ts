/**
 * What one round trip costs this process in CPU, spread out (a few a second, the process asleep in
 * between) and back to back. The bench's "CPU ms per order" at low rates is mostly this: on a virtual
 * machine a process woken from sleep pays for cold caches on every wakeup, whatever the runtime (Node
 * measures the same), and a paced rate of 60 orders/s wakes every process of the pipeline several
 * times per order. At high rates the same work shares wakeups (batches), and the cost per order falls.
 *
 *   bun bench/wakeup-cost.ts [--database-url URL] [--redis-url URL]
 */
import { parseArgs } from 'node:util';
import IORedis from 'ioredis';
import postgres from 'postgres';

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    'database-url': { type: 'string', default: Bun.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string', default: Bun.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});
const sql = postgres(values['database-url']!, { max: 1 });
const redis = new IORedis(values['redis-url']!);
await sql`select 1`;
await redis.ping();

/** CPU microseconds per operation: `count` of them at `rate` per second (the process sleeps between), or back to back when rate is undefined. */
async function cpuPerOp(op: () => Promise<unknown>, count: number, rate?: number): Promise<number> {
  const start = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    if (rate !== undefined) {
      const wait = t0 + (i * 1000) / rate - performance.now();
      if (wait > 0) await Bun.sleep(wait);
    }
    await op();
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / count;
}

const ops: [string, () => Promise<unknown>][] = [
  ['nothing (a timer wakeup)', async () => {}],
  ['PostgreSQL select 1', () => sql`select 1`],
  ['Redis PING', () => redis.ping()],
];
console.log('CPU per operation, this process (us): spread at 60/s | back to back');
for (const [name, op] of ops) {
  const spread = await cpuPerOp(op, 300, 60);
  const packed = await cpuPerOp(op, 5000);
  console.log(`  ${name.padEnd(26)} ${spread.toFixed(0).padStart(6)} | ${packed.toFixed(0).padStart(6)}`);
}
await sql.end();
redis.disconnect();
