import { parseArgs } from 'node:util';
import { Events } from '../../src/shared/pipeline/events.ts';
import type { Redis } from '../../src/shared/runtime/redis.ts';
import { recordToFields } from '../../src/shared/streams/stream-id.ts';

export interface ContenderResult {
  name: string;
  messages: number;
  enqueueSeconds: number;
  processSeconds: number;
  enqueuePerSecond: number;
  processedPerSecond: number;
  /** The runners only: how long `stop()` took after the last acknowledgement (not in processSeconds). */
  stopSeconds?: number;
}

/** The options every contender takes (bench/queue.ts passes them); a contender may add its own. */
export const CONTENDER_OPTIONS = {
  messages: { type: 'string', default: '100000' },
  concurrency: { type: 'string', default: '200' },
  prefix: { type: 'string', default: `bench:queue:${process.pid}:` },
  'redis-url': { type: 'string', default: Bun.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0' },
} as const;

export function contenderArgs() {
  const { values } = parseArgs({ args: Bun.argv.slice(2), options: CONTENDER_OPTIONS });
  return {
    messages: Number(values.messages),
    concurrency: Number(values.concurrency),
    prefix: values.prefix!,
    redisUrl: values['redis-url']!,
  };
}

/** The same message for every contender: a real, valid `orders.placed` entry. */
export function sampleFields(): Record<string, string> {
  const event = Events.orderPlaced.create(
    { orderId: '01a212c4-2d93-76bc-b31b-849e65fceaf5' },
    'bench-request',
  );
  return Events.orderPlaced.toFields(event);
}

/** XADDs `count` copies of the sample entry, pipelined 1000 at a time (on a cluster, one key is one slot, so one node). */
export async function fillStream(redis: Redis, stream: string, count: number): Promise<number> {
  const fields = recordToFields(sampleFields());
  const started = performance.now();
  for (let done = 0; done < count; done += 1000) {
    const pipeline = redis.pipeline();
    for (let i = done; i < Math.min(count, done + 1000); i++) pipeline.xadd(stream, '*', ...fields);
    await pipeline.exec();
  }
  return (performance.now() - started) / 1000;
}

/**
 * Resolves once nothing is pending in the group: every entry handled and its XACK applied by Redis.
 * The runners' clock stops here, as the bare loop's stops after its last XACK; `stop()` comes after,
 * because it waits for the read blocked at that moment (up to blockMs), which is shutdown, not throughput.
 */
export async function waitUntilAcknowledged(redis: Redis, stream: string, group: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const [pending] = (await redis.xpending(stream, group)) as [number];
    if (Number(pending) === 0) return;
    if (performance.now() > deadline) throw new Error(`${pending} entries still pending after ${timeoutMs} ms`);
    await Bun.sleep(0);
  }
}

export function report(result: Omit<ContenderResult, 'enqueuePerSecond' | 'processedPerSecond'>): void {
  const full: ContenderResult = {
    ...result,
    enqueuePerSecond: result.messages / result.enqueueSeconds,
    processedPerSecond: result.messages / result.processSeconds,
  };
  // The orchestrator reads the last line.
  console.log(JSON.stringify(full));
}
