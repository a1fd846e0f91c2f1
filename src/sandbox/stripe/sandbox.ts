import { eventRoutes } from './api/event-routes.ts';
import { paymentIntentRoutes } from './api/payment-intent-routes.ts';
import type { SandboxSettings } from './config.ts';
import { parseFaultConfig, type FaultConfig } from './faults/fault-config.ts';
import { FaultSwitch } from './faults/fault-switch.ts';
import { PerSecondLimit } from './faults/rate-limiter.ts';
import { faultsView, handleAdminRequest, sandboxStats } from './http/admin-routes.ts';
import { createApiHandler } from './http/handle-api-request.ts';
import { RequestStats } from './http/request-stats.ts';
import { createRouter } from './http/router.ts';
import { createIdempotency } from './idempotency.ts';
import { createEventLog } from './ledger/event-log.ts';
import { createPaymentIntents } from './ledger/payment-intents.ts';
import { silentLog, type SandboxLog } from './log.ts';
import { createLedgerStore } from './store/ledger-store.ts';
import { openStore, wipeStore } from './store/open-store.ts';
import { startTicker } from './ticker.ts';
import { createWebhookSender } from './webhooks/webhook-sender.ts';

export interface StripeSandbox {
  /** `http://host:port`, what the SDK's host/port/protocol point at. */
  url: string;
  port: number;
  /** Replaces the faults (the body of POST /_sandbox/faults; defaults filled in). */
  setFaults(config: Partial<FaultConfig>): FaultConfig;
  faults(): ReturnType<typeof faultsView>;
  stats(): ReturnType<typeof sandboxStats>;
  /** Forgets every intent, key, event and delivery; the faults go back to the settings'. */
  reset(): void;
  /** Stops listening and sending; deliveries cut short stay pending in the store. */
  stop(): Promise<void>;
}

const IDEMPOTENCY_PRUNE_EVERY_MS = 60_000;

/** Starts a Stripe-compatible server on `settings.port` (0: any free port). */
export function startStripeSandbox(settings: SandboxSettings, { log = silentLog, now = Date.now }: { log?: SandboxLog; now?: () => number } = {}): StripeSandbox {
  const db = openStore(settings.dbPath);
  const store = createLedgerStore(db);
  const faults = new FaultSwitch(settings.faults);
  const stats = new RequestStats();
  const idempotency = createIdempotency({ table: store.idempotency, ttlMs: settings.idempotencyTtlMs, now });
  // The ticker is made below; the event log only needs to poke it.
  let wakeTicker = () => {};
  const events = createEventLog({ store, apiVersion: settings.apiVersion, webhookUrls: settings.webhooks.urls, now, onQueued: () => wakeTicker() });
  const intents = createPaymentIntents({ store, events, now });
  const sender = createWebhookSender({ store, events, settings: settings.webhooks, log, now });
  const router = createRouter([
    ...paymentIntentRoutes({ intents, store, searchLagMs: () => faults.config.searchLagMs, now }),
    ...eventRoutes({ store, events }),
  ]);
  const handleApiRequest = createApiHandler({ router, faults, limit: new PerSecondLimit(), stats, idempotency, apiVersion: settings.apiVersion, log, now });

  let prunedAt = 0;
  const ticker = startTicker({
    intervalMs: settings.tickMs,
    log,
    work: () => {
      intents.settleDue();
      sender.deliverDue();
      if (now() - prunedAt >= IDEMPOTENCY_PRUNE_EVERY_MS) {
        prunedAt = now();
        idempotency.prune();
      }
    },
  });
  wakeTicker = ticker.wake;

  const reset = () => {
    sender.abandonInFlight();
    wipeStore(db);
    idempotency.clear();
    stats.reset();
    faults.set(settings.faults);
  };
  const adminDeps = { faults, stats, store, reset };

  const server = Bun.serve({
    hostname: settings.host,
    port: settings.port,
    // A slow fault (latency, a held idempotency key) must not be cut short by Bun's idle timeout.
    idleTimeout: 0,
    fetch(request) {
      const { pathname } = new URL(request.url);
      if (pathname.startsWith('/_sandbox/')) return handleAdminRequest(request, pathname, adminDeps);
      return handleApiRequest(request);
    },
  });
  // Deliveries left pending by a previous run go out now.
  ticker.wake();

  const port = server.port!;
  return {
    url: `http://${settings.host}:${port}`,
    port,
    setFaults: (config) => {
      faults.set(parseFaultConfig(config));
      return faults.config;
    },
    faults: () => faultsView(faults),
    stats: () => sandboxStats({ stats, store }),
    reset,
    async stop() {
      ticker.stop();
      await sender.stop();
      await server.stop(true);
      db.close();
    },
  };
}
