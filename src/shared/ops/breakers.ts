import type { Redis } from '../runtime/redis.ts';

const TTL_SECONDS = 30;

function key(prefix: string, consumer: string) {
  return `${prefix}ops:breaker:${consumer}`;
}

/**
 * Each payment worker writes its breaker state to a short-lived key, so the API's operations page can
 * show every worker's breaker without reaching into the workers. A worker that stops vanishes after the TTL.
 */
export async function reportBreakerState(redis: Redis, prefix: string, consumer: string, state: string): Promise<void> {
  await redis.set(key(prefix, consumer), state, 'EX', TTL_SECONDS);
}

export async function readBreakerStates(redis: Redis, prefix: string): Promise<Record<string, string>> {
  const states: Record<string, string> = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', key(prefix, '*'), 'COUNT', 200);
    const values = keys.length > 0 ? await redis.mget(...keys) : [];
    keys.forEach((k, i) => {
      if (values[i]) states[k.slice(key(prefix, '').length)] = values[i]!;
    });
    cursor = next;
  } while (cursor !== '0');
  return states;
}
