import type { Database } from '../shared/db/client.ts';
import type { GatewayCharge } from '../shared/db/schema.ts';
import { GatewayTransientError } from './errors.ts';
import { createGatewayLedger } from './gateway-ledger.ts';

export interface ChargeRequest {
  /** Same key, same charge: a retry can never charge twice. We use the order id. */
  idempotencyKey: string;
  amountCents: number;
}

export type ChargeResult =
  | { status: 'succeeded'; chargeId: string }
  | { status: 'declined'; chargeId: string; reason: string };

/** What the payment worker needs from a payment provider. Throws GatewayTransientError for failures worth retrying. */
export interface PaymentGateway {
  charge(request: ChargeRequest): Promise<ChargeResult>;
}

export interface MockGatewaySettings {
  latencyMs: number;
  /** Share of calls that fail transiently: half before charging (a 503), half after (a timeout). */
  errorRate: number;
  /** Share of charges the card issuer declines. */
  declineRate: number;
}

const DECLINE_REASONS = ['card_declined', 'insufficient_funds', 'expired_card'] as const;

function toResult(row: GatewayCharge): ChargeResult {
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
}: {
  db: Database;
  settings: MockGatewaySettings;
  random?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
}): PaymentGateway {
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

  return {
    async charge({ idempotencyKey, amountCents }) {
      // Latency varies +-50% around the setting.
      if (settings.latencyMs > 0) await sleep(settings.latencyMs * (0.5 + random()));
      const failure = random();
      if (failure < settings.errorRate / 2) throw new GatewayTransientError('503 Service Unavailable from the gateway');

      // The same key returns the first result and charges nothing new.
      const charge = await chargeOnce(idempotencyKey, amountCents);

      // The charge went through but the answer never arrived: only the idempotency key makes the retry safe.
      if (failure < settings.errorRate) throw new GatewayTransientError('gateway timed out (the charge may have gone through)');
      return toResult(charge);
    },
  };
}
