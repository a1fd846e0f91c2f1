import type { Logger } from './log.ts';
import type { Redis } from './redis.ts';

/**
 * For entry points: on SIGTERM or SIGINT, runs `steps` in order (stop intake first, close
 * connections last), then exits 0. If they take longer than `timeoutMs`, exits 1 anyway, so a
 * stuck dependency cannot keep an orchestrator waiting forever.
 */
export function exitGracefullyOnSignal(log: Logger, timeoutMs: number, steps: (() => Promise<unknown>)[]): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const forced = setTimeout(() => {
      log.error({ timeout_ms: timeoutMs }, 'shutdown timed out; exiting anyway');
      process.exit(1);
    }, timeoutMs);
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        log.warn({ err }, 'shutdown step failed; continuing');
      }
    }
    clearTimeout(forced);
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** QUIT when Redis answers, otherwise just drop the socket. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // Fall through: the connection went away while quitting.
    }
  }
  redis.disconnect();
}
