import type { Database } from '../shared/db/client.ts';
import type { GatewayCharge } from '../shared/db/schema.ts';
import { GatewayTransientError } from './errors.ts';
import type { CallBudget, ChargeRequest, DecidedCharge } from './gateway.ts';
import { createGatewayLedger } from './gateway-ledger.ts';

export interface MockGatewaySettings {
  latencyMs: number;
  /** Share of calls that fail transiently: half before charging (a 503), half after (a timeout). */
  errorRate: number;
  /** Share of charges the card issuer declines. */
  declineRate: number;
  /**
   * An issuer that times out for a while: every `every`-th order (by its id) has its first `calls` calls
   * fail with a 503 before anything is charged. 0: none.
   */
  flaky?: { every: number; calls: number };
}

const DECLINE_REASONS = ['card_declined', 'insufficient_funds', 'expired_card'] as const;

/** Whether an order is one of the flaky ones: every `every`-th, by the last hex digits of its id. */
export function isFlaky(orderId: string, every: number): boolean {
  return Number.parseInt(orderId.slice(-6), 16) % every === 0;
}

function toResult(row: GatewayCharge): DecidedCharge {
  return row.status === 'succeeded'
    ? { status: 'succeeded', chargeId: row.id }
    : { status: 'declined', chargeId: row.id, reason: row.declineReason ?? 'card_declined' };
}

/**
 * A stand-in for a card processor that behaves like one: it takes time, sometimes fails, sometimes
 * declines, and honours idempotency keys like Stripe does (the same key returns the first result
 * and charges nothing new). Its ledger is its own table, `gateway_charges`, written outside the
 * worker's transactions, exactly as a real provider's records would be; calls made together (a
 * batch's) share one ledger statement, each still answered on its own (see createGatewayLedger).
 *
 * `settings` is read on every call, so a test can make the gateway fail and then recover.
 */
export function createMockGateway({
  db,
  settings,
  random = Math.random,
  sleep = Bun.sleep,
  rateLimit,
}: {
  db: Database;
  settings: MockGatewaySettings;
  random?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
  rateLimit?: CallBudget;
}): { charge(request: ChargeRequest): Promise<DecidedCharge> } {
  const ledger = createGatewayLedger(db);

  /** The charge for this key: a new one, or (the key seen before, or two calls racing) the first one. */
  function chargeOnce(idempotencyKey: string, amountCents: number) {
    const declined = random() < settings.declineRate;
    return ledger.record({
      id: `ch_${Bun.randomUUIDv7().replaceAll('-', '')}`,
      idempotencyKey,
      amountCents,
      status: declined ? 'declined' : 'succeeded',
      declineReason: declined ? DECLINE_REASONS[Math.floor(random() * DECLINE_REASONS.length)]! : null,
    });
  }

  // Calls seen per flaky order, for `settings.flaky`.
  const flakyCalls = new Map<string, number>();

  return {
    async charge({ orderId, amountCents }) {
      await rateLimit?.acquire();
      // Latency varies +-50% around the setting.
      if (settings.latencyMs > 0) await sleep(settings.latencyMs * (0.5 + random()));
      const flaky = settings.flaky;
      if (flaky && flaky.every > 0 && isFlaky(orderId, flaky.every)) {
        const calls = (flakyCalls.get(orderId) ?? 0) + 1;
        flakyCalls.set(orderId, calls);
        if (calls <= flaky.calls) throw new GatewayTransientError(`503 from the gateway: the issuer timed out (call ${calls} for this order)`);
      }
      const failure = random();
      if (failure < settings.errorRate / 2) throw new GatewayTransientError('503 Service Unavailable from the gateway');

      // The same key (this mock's idempotency key is the order id) returns the first result and charges nothing new.
      const charge = await chargeOnce(orderId, amountCents);

      // The charge went through but the answer never arrived: only the idempotency key makes the retry safe.
      if (failure < settings.errorRate) throw new GatewayTransientError('gateway timed out (the charge may have gone through)');
      return toResult(charge);
    },
  };
}
