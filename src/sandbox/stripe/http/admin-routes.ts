import { FaultConfigError, parseFaultConfig, type FaultConfig } from '../faults/fault-config.ts';
import type { FaultSwitch } from '../faults/fault-switch.ts';
import type { LedgerStore } from '../store/ledger-store.ts';
import type { RequestStats } from './request-stats.ts';

export interface AdminDeps {
  faults: FaultSwitch;
  stats: RequestStats;
  store: LedgerStore;
  /** Forgets everything: the ledger, the counters, and the faults back to `startFaults`. */
  reset: () => void;
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

/** What GET /_sandbox/stats answers: what was asked of the sandbox and what it holds. */
export function sandboxStats({ stats, store }: Pick<AdminDeps, 'stats' | 'store'>) {
  const perOrder = store.charges.succeededPerOrder();
  return {
    requests: stats.snapshot(),
    intents: { total: Object.values(store.intents.countByStatus()).reduce((a, b) => a + b, 0), by_status: store.intents.countByStatus() },
    charges: {
      ...{ succeeded: 0, failed: 0 },
      ...store.charges.countByStatus(),
      per_order: perOrder,
      orders_charged_more_than_once: Object.keys(perOrder).filter((order) => perOrder[order]! > 1),
    },
    events: store.events.count(),
    webhooks: store.deliveries.counts(),
  };
}

export function faultsView(faults: FaultSwitch): FaultConfig & { counts: { rule: number; matched: number; fired: number }[] } {
  return { ...faults.config, counts: faults.ruleCounts.map((count, rule) => ({ rule, matched: count.matched, fired: count.fired })) };
}

/**
 * The sandbox's own API, outside Stripe's: no auth, no faults.
 *   GET  /_sandbox/faults  the fault config and how often each rule hit
 *   POST /_sandbox/faults  replace it (JSON, see FaultConfig); counters and the random restart
 *   POST /_sandbox/reset   forget everything
 *   GET  /_sandbox/stats   requests per second, intents, charges (per order), events, deliveries
 */
export async function handleAdminRequest(request: Request, pathname: string, deps: AdminDeps): Promise<Response> {
  const route = `${request.method} ${pathname.replace(/\/$/, '')}`;
  switch (route) {
    case 'GET /_sandbox/faults':
      return json(faultsView(deps.faults));
    case 'POST /_sandbox/faults': {
      let config: FaultConfig;
      try {
        config = parseFaultConfig(await request.json());
      } catch (error) {
        if (error instanceof FaultConfigError || error instanceof SyntaxError) return json({ error: { type: 'invalid_request_error', message: error.message } }, 400);
        throw error;
      }
      deps.faults.set(config);
      return json(faultsView(deps.faults));
    }
    case 'POST /_sandbox/reset':
      deps.reset();
      return json({ reset: true });
    case 'GET /_sandbox/stats':
      return json(sandboxStats(deps));
    default:
      return json({ error: { type: 'invalid_request_error', message: `Unrecognized sandbox URL (${request.method}: ${pathname}).` } }, 404);
  }
}
