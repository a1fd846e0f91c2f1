import type { Redis } from '../runtime/redis.ts';

/** A worker that has not reported for this long is gone (it reports every 10 s and on every change). */
export const BREAKER_REPORT_TTL_MS = 30_000;

/**
 * One hash per deployment, a field per payment worker: the reader fetches one known key instead of
 * SCANning the keyspace for per-worker keys, which costs O(all keys in Redis) on every poll.
 */
export function breakersKey(prefix: string): string {
  return `${prefix}ops:breakers`;
}

// Stamped with Redis' own clock (TIME), read against the same clock: workers on hosts whose clocks
// disagree can neither look stale nor outlive their TTL. The whole hash expires once no worker reports.
const REPORT = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({ state = ARGV[2], at = ms }))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return ms`;

/** Each payment worker writes its breaker state here, so the operations page shows every worker's breaker. */
export async function reportBreakerState(redis: Redis, prefix: string, consumer: string, state: string): Promise<void> {
  await redis.eval(REPORT, 1, breakersKey(prefix), consumer, state, String(BREAKER_REPORT_TTL_MS));
}

function parseReport(raw: string): { state: string; at: number } | undefined {
  try {
    const value = JSON.parse(raw) as { state?: unknown; at?: unknown };
    return typeof value.state === 'string' && typeof value.at === 'number' ? { state: value.state, at: value.at } : undefined;
  } catch {
    return undefined;
  }
}

/** Breaker state by worker; entries older than the TTL (or unreadable) are dropped from the answer and the hash. */
export async function readBreakerStates(redis: Redis, prefix: string): Promise<Record<string, string>> {
  const key = breakersKey(prefix);
  const results = await redis.multi().time().hgetall(key).exec();
  const failed = results?.find(([err]) => err);
  if (!results || failed) throw failed?.[0] ?? new Error('breaker state read was discarded');
  const [seconds, micros] = results[0]![1] as [string, string];
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  const states: Record<string, string> = {};
  const stale: string[] = [];
  for (const [consumer, raw] of Object.entries(results[1]![1] as Record<string, string>)) {
    const report = parseReport(raw);
    if (report && now - report.at <= BREAKER_REPORT_TTL_MS) states[consumer] = report.state;
    else stale.push(consumer);
  }
  // A worker that stopped (its name is host and pid, so every restart is a new field) leaves its field
  // behind; removing it here keeps the hash as small as the live fleet. A worker that reports again
  // between the read and this HDEL reappears at its next report, 10 s later at most.
  if (stale.length > 0) await redis.hdel(key, ...stale);
  return states;
}
