import { checkLimits, emissionIntervalUs, type GcraLimits } from './gcra.ts';
import { luaScript } from './lua-script.ts';
import type { Redis } from './redis.ts';

/**
 * gcra() (gcra.ts) as one Redis script, so every replica calling one external service shares one
 * limit: ten replicas together stay under a provider's rate instead of each backing off alone.
 * The clock is Redis's (TIME), the one clock all replicas agree on. The key expires once the
 * limiter is empty again, so an idle limiter leaves nothing behind.
 *
 * KEYS[1]: the TAT (microseconds). ARGV: emission interval (µs), burst, and optionally `now` (µs):
 * given only by the test that replays a sequence through both this script and gcra(); with it the
 * key gets no expiry, which is measured on Redis's clock, not on the replayed one.
 * Returns 0 when admitted, else the wait in microseconds.
 */
const GCRA = luaScript(`
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local replayed = now ~= nil
if not replayed then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local allow_at = tat + interval - burst * interval
if now < allow_at then return allow_at - now end
local new_tat = tat + interval
if replayed then
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat))
else
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
end
return 0
`);

export interface RateLimiterOptions extends GcraLimits {
  redis: Redis;
  /** One key per external service (e.g. `${prefix}ratelimit:gateway`), shared by every replica. */
  key: string;
}

export interface RateLimiter {
  /** Resolves once a call may go; waits as long as the script says between asks. Rejects when `signal` aborts. */
  acquire(signal?: AbortSignal): Promise<void>;
  /** One ask: 0 when admitted (the call may go now), else milliseconds to wait before asking again. */
  tryAcquire(): Promise<number>;
}

export function createRateLimiter({ redis, key, ratePerS, burst }: RateLimiterOptions): RateLimiter {
  checkLimits({ ratePerS, burst });
  const interval = emissionIntervalUs(ratePerS);

  async function tryAcquire(): Promise<number> {
    return Number(await GCRA.run(redis, [key], [interval, burst])) / 1000;
  }

  return {
    tryAcquire,
    async acquire(signal) {
      for (;;) {
        signal?.throwIfAborted();
        const waitMs = await tryAcquire();
        if (waitMs === 0) return;
        // Sleep the whole wait (at least 1 ms): asking sooner is refused again. Another replica may
        // take the slot first; then the next answer names the next one.
        await sleep(Math.max(1, Math.ceil(waitMs)), signal);
      }
    },
  };
}

/** One decision at a replayed time `nowUs` through the same script, for checking it against gcra(): 0 or the wait in µs. */
export async function gcraInRedis(redis: Redis, key: string, nowUs: number, limits: GcraLimits): Promise<number> {
  return Number(await GCRA.run(redis, [key], [emissionIntervalUs(limits.ratePerS), limits.burst, nowUs]));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
