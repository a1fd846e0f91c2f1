/**
 * `bun run bench:recovery`: how long entries held by a payment worker that dies (SIGKILL) wait before
 * the surviving worker has processed them. The goal is within CLAIM_IDLE_MS + 1 s.
 *
 *   bun run bench:recovery                                  # 5 rounds, CLAIM_IDLE_MS 2000, gateway 1000 ms
 *   bun run bench:recovery --claim-idle-ms 5000 --rounds 3
 *   bun run bench:recovery --orders 32 --gateway-latency-ms 500
 *
 * A throwaway system (api, two payment workers, one notify worker) with a slow mock gateway, so that
 * entries are in flight when the worker dies. Each round places orders, waits until they are all
 * delivered and pending, SIGKILLs the payment worker holding the most, and times, from the kill, until
 * every entry it held is (1) owned by the survivor or acknowledged, "taken over", and (2) acknowledged
 * or its order paid in PostgreSQL, "processed". A new worker replaces the dead one before the next round.
 * Speed is printed, never asserted.
 */
import { and, eq, inArray } from 'drizzle-orm';
import Redis from 'ioredis';
import { parseArgs } from 'node:util';
import { orders } from '../src/shared/db/schema.ts';
import { Events } from '../src/shared/pipeline/events.ts';
import { streamKey, TOPOLOGY } from '../src/shared/pipeline/topology.ts';
import { loadConfigOrExit } from '../src/shared/runtime/startup.ts';
import { fieldsToRecord } from '../src/shared/streams/stream-id.ts';
import type { RunningService } from '../scripts/lib/spawn-service.ts';
import { startSystem, stopAfter, type System } from '../scripts/lib/start-system.ts';
import { machine } from './machine.ts';

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    'claim-idle-ms': { type: 'string', default: '2000' },
    'gateway-latency-ms': { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '5' },
    orders: { type: 'string', default: '16' },
  },
});

const claimIdleMs = Number(values['claim-idle-ms']);
const gatewayLatencyMs = Number(values['gateway-latency-ms']);
const rounds = Number(values.rounds);
const ordersPerRound = Number(values.orders);
const goalMs = claimIdleMs + 1000;
const config = loadConfigOrExit(Bun.env);
const { group } = TOPOLOGY.OrderPlaced;

interface Worker {
  name: string;
  service: RunningService;
}

interface Round {
  victim: string;
  held: number;
  takenOverMs: number;
  processedMs: number;
}

async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}

async function placeOrders(apiUrl: string, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await fetch(`${apiUrl}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items: [{ menuItemId: 1, quantity: 1 }], customerEmail: `recovery-${i}@example.com` }),
      });
      if (res.status !== 201) throw new Error(`POST /orders answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    }),
  );
}

/** Pending entries per consumer of the payment group (XPENDING summary). */
async function pendingByConsumer(redis: Redis, stream: string): Promise<Map<string, number>> {
  const [, , , consumers] = (await redis.xpending(stream, group)) as [number, string | null, string | null, [string, string][] | null];
  return new Map((consumers ?? []).map(([name, count]) => [name, Number(count)]));
}

/** For each of `ids`, who holds it now, or null when it is no longer pending (acknowledged). */
async function owners(redis: Redis, stream: string, ids: string[]): Promise<Map<string, string | null>> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.xpending(stream, group, id, id, 1);
  const replies = (await pipeline.exec()) ?? [];
  return new Map(
    ids.map((id, i) => {
      const [error, rows] = replies[i]!;
      if (error) throw error;
      const row = (rows as [string, string, number, number][])[0];
      return [id, row ? row[1] : null];
    }),
  );
}

/** The order each entry is about, read from the stream. */
async function orderIdsOf(redis: Redis, stream: string, ids: string[]): Promise<Map<string, string>> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.xrange(stream, id, id);
  const replies = (await pipeline.exec()) ?? [];
  return new Map(
    ids.map((id, i) => {
      const [error, entries] = replies[i]!;
      if (error) throw error;
      const [entry] = entries as [string, string[]][];
      if (!entry) throw new Error(`entry ${id} is gone from ${stream}`);
      return [id, Events.orderPlaced.fromFields(fieldsToRecord(entry[1])).payload.orderId];
    }),
  );
}

async function paidOrders(system: System, orderIds: string[]): Promise<Set<string>> {
  const rows = await system.db
    .select({ id: orders.id })
    .from(orders)
    .where(and(inArray(orders.id, orderIds), eq(orders.status, 'paid')));
  return new Set(rows.map((row) => row.id));
}

async function round(system: System, redis: Redis, apiUrl: string, workers: Worker[]): Promise<Round> {
  const stream = streamKey(system.prefix, TOPOLOGY.OrderPlaced.stream);
  await placeOrders(apiUrl, ordersPerRound);
  // Every order's entry delivered and none finished: the gateway keeps each one busy for a while.
  const pending = await waitUntil('every order to be delivered to a payment worker', 10_000, async () => {
    const byConsumer = await pendingByConsumer(redis, stream);
    const total = [...byConsumer.values()].reduce((sum, count) => sum + count, 0);
    return total >= ordersPerRound ? byConsumer : undefined;
  });
  const victim = workers.reduce((most, worker) => ((pending.get(worker.name) ?? 0) > (pending.get(most.name) ?? 0) ? worker : most));
  const held = ((await redis.xpending(stream, group, '-', '+', 10_000, victim.name)) as [string, string, number, number][]).map(([id]) => id);
  const orderOf = await orderIdsOf(redis, stream, held);

  const killedAt = performance.now();
  await victim.service.stop('SIGKILL');
  let takenOverMs: number | undefined;
  const processedMs = await waitUntil(`the entries of ${victim.name} to be processed`, claimIdleMs + 60_000, async () => {
    const [owner, paid] = await Promise.all([owners(redis, stream, held), paidOrders(system, [...orderOf.values()])]);
    const elapsed = performance.now() - killedAt;
    if (takenOverMs === undefined && held.every((id) => owner.get(id) !== victim.name)) takenOverMs = elapsed;
    return held.every((id) => owner.get(id) === null || paid.has(orderOf.get(id)!)) ? elapsed : undefined;
  });

  // The survivor finishes everything, then a new worker takes the dead one's place for the next round.
  await waitUntil('no entry pending', 60_000, async () => {
    const byConsumer = await pendingByConsumer(redis, stream);
    return [...byConsumer.values()].every((count) => count === 0) ? true : undefined;
  });
  workers.splice(workers.indexOf(victim), 1);
  workers.push(await spawnPayment(system));
  return { victim: victim.name, held: held.length, takenOverMs: takenOverMs ?? processedMs, processedMs };
}

let workersStarted = 0;
async function spawnPayment(system: System): Promise<Worker> {
  const name = `recovery-payment-${++workersStarted}`;
  return { name, service: await system.spawn('payment', { CONSUMER_NAME: name }) };
}

function stats(values: number[]) {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { min: sorted[0]!, median, max: sorted.at(-1)! };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const info = await machine();
console.log(
  `${rounds} rounds of ${ordersPerRound} orders, CLAIM_IDLE_MS ${claimIdleMs}, gateway ${gatewayLatencyMs} ms per call, ${info.cores} cores, Bun ${info.bun}; goal: within ${seconds(goalMs)} (CLAIM_IDLE_MS + 1 s)`,
);
const system = await startSystem({
  label: 'recovery',
  databaseServerUrl: config.database.url,
  redisUrl: config.redisUrl,
  env: {
    LOG_LEVEL: 'warn',
    CLAIM_IDLE_MS: String(claimIdleMs),
    PAYMENT_PROVIDER: 'mock',
    GATEWAY_LATENCY_MS: String(gatewayLatencyMs),
    GATEWAY_ERROR_RATE: '0',
    GATEWAY_DECLINE_RATE: '0',
  },
  poolSize: 2,
  applicationName: 'bench-recovery',
});
const redis = new Redis(config.redisUrl);
const results: Round[] = [];
try {
  await stopAfter(system, async () => {
    const [api] = await Promise.all([system.spawn('api'), system.spawn('notify', { CONSUMER_NAME: 'recovery-notify' })]);
    const workers = await Promise.all([spawnPayment(system), spawnPayment(system)]);
    const apiUrl = `http://127.0.0.1:${api.port}`;
    for (let i = 1; i <= rounds; i++) {
      const result = await round(system, redis, apiUrl, workers);
      results.push(result);
      console.log(
        `round ${i}: SIGKILLed ${result.victim} holding ${result.held} entries; taken over after ${seconds(result.takenOverMs)}, processed after ${seconds(result.processedMs)}`,
      );
    }
  });
} finally {
  redis.disconnect();
}

const processed = stats(results.map((r) => r.processedMs));
const takenOver = stats(results.map((r) => r.takenOverMs));
const line = (label: string, { min, median, max }: ReturnType<typeof stats>) =>
  console.log(`${label.padEnd(44)} min ${seconds(min)}   median ${seconds(median)}   max ${seconds(max)}   (CLAIM_IDLE_MS + 1 s = ${seconds(goalMs)})`);
line('kill -> every held entry taken over', takenOver);
line('kill -> every held entry processed', processed);
const summary = { date: new Date().toISOString(), claimIdleMs, gatewayLatencyMs, ordersPerRound, goalMs, machine: info, rounds: results, takenOverMs: takenOver, processedMs: processed };
const file = new URL(`results/recovery-${summary.date.replaceAll(':', '-')}.json`, import.meta.url);
await Bun.write(file, `${JSON.stringify(summary, null, 2)}\n`);
console.log(`result: ${file.pathname.replace(`${process.cwd()}/`, '')}`);
