import type { SandboxSettings } from '../config.ts';
import type { EventLog } from '../ledger/event-log.ts';
import type { SandboxLog } from '../log.ts';
import type { DueDelivery } from '../store/deliveries-table.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import { retryDelayMs } from './retry-schedule.ts';
import { signatureHeader } from './signature.ts';

export interface WebhookSenderDeps {
  store: LedgerStore;
  events: EventLog;
  settings: SandboxSettings['webhooks'];
  log: SandboxLog;
  now: () => number;
}

/** Deliveries in flight at once: enough to make them overlap (and arrive out of order), as Stripe's do. */
const MAX_IN_FLIGHT = 16;

/**
 * POSTs due deliveries, signed as Stripe signs them; a non-2xx answer, a timeout or a refused
 * connection is tried again on the retry schedule. Where each delivery stands is in the store, so a
 * restarted sandbox carries on, and one cut short by a stop is sent again: endpoints may get an
 * event more than once, as from Stripe.
 */
export function createWebhookSender({ store, events, settings, log, now }: WebhookSenderDeps) {
  const inFlight = new Map<number, AbortController>();
  const stopping = new AbortController();

  async function deliver(delivery: DueDelivery, abort: AbortController): Promise<void> {
    const stored = store.events.get(delivery.eventId);
    if (!stored) return; // the store was reset under it
    const payload = JSON.stringify(events.current(stored), null, 2);
    const attempts = delivery.attempts + 1;
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        body: payload,
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'Stripe-Signature': signatureHeader(payload, settings.secret, Math.floor(now() / 1000)),
        },
        signal: AbortSignal.any([abort.signal, AbortSignal.timeout(settings.timeoutMs)]),
      });
      status = response.status;
      await response.arrayBuffer();
    } catch (cause) {
      // Stopped mid-delivery: leave it pending, to be sent again after a restart.
      if (abort.signal.aborted) return;
      error = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    }
    if (status !== null && status >= 200 && status < 300) {
      store.deliveries.record(delivery.id, { state: 'delivered', attempts, nextAtMs: now(), status, error: null });
      return;
    }
    const delay = retryDelayMs(attempts, settings.retryScheduleMs);
    store.deliveries.record(delivery.id, { state: delay === undefined ? 'failed' : 'pending', attempts, nextAtMs: now() + (delay ?? 0), status, error });
    log.warn({ event_id: delivery.eventId, url: delivery.url, attempts, status, error, retry_in_ms: delay ?? null }, delay === undefined ? 'webhook delivery given up' : 'webhook delivery failed, will retry');
  }

  return {
    /** Starts the deliveries that are due and not already on their way. */
    deliverDue(): void {
      if (stopping.signal.aborted) return;
      const room = MAX_IN_FLIGHT - inFlight.size;
      if (room <= 0) return;
      for (const delivery of store.deliveries.due(now(), room + inFlight.size)) {
        if (inFlight.has(delivery.id) || inFlight.size >= MAX_IN_FLIGHT) continue;
        const abort = new AbortController();
        inFlight.set(delivery.id, abort);
        void deliver(delivery, abort)
          .catch((error: unknown) => log.error({ err: error, event_id: delivery.eventId }, 'webhook delivery crashed'))
          .finally(() => inFlight.delete(delivery.id));
      }
    },

    /** Cuts the deliveries in flight short (they stay pending) and waits for them to let go. */
    async stop(): Promise<void> {
      stopping.abort();
      for (const abort of inFlight.values()) abort.abort();
      const deadline = Date.now() + 1000;
      while (inFlight.size > 0 && Date.now() < deadline) await Bun.sleep(5);
    },

    /** Forgets deliveries in flight without recording them (POST /_sandbox/reset). */
    abandonInFlight(): void {
      for (const abort of inFlight.values()) abort.abort();
    },
  };
}

export type WebhookSender = ReturnType<typeof createWebhookSender>;
