import type { SandboxLog } from './log.ts';

/**
 * Runs `work` every `intervalMs` (never two at once), and soon after `wake()`: due webhook
 * deliveries and processing outcomes are found in the store, so a restarted sandbox picks them up.
 */
export function startTicker({ intervalMs, work, log }: { intervalMs: number; work: () => void; log: SandboxLog }) {
  let woken: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    woken = undefined;
    try {
      work();
    } catch (error) {
      // A failed tick (the store busy, say) is tried again on the next one: the work is all in the store.
      log.error({ err: error }, 'stripe-sandbox tick failed');
    }
  };
  const timer = setInterval(tick, intervalMs);
  return {
    wake(): void {
      woken ??= setTimeout(tick, 0);
    },
    stop(): void {
      clearInterval(timer);
      if (woken) clearTimeout(woken);
    },
  };
}
