import { describe, expect, it } from 'bun:test';
import { CircuitBreaker } from '../../src/payment/breaker.ts';
import { chargeWithRetries, type ChargeDeps } from '../../src/payment/charge.ts';
import { GatewayTransientError, GatewayUnavailable } from '../../src/payment/errors.ts';
import { retryAfterOf } from '../../src/shared/streams/retry-later.ts';
import type { ChargeResult, PaymentGateway } from '../../src/payment/gateway.ts';
import { createLogger } from '../../src/shared/runtime/log.ts';

/** A gateway that answers each call as its script says: a result, or never. */
function scriptedGateway(script: ('never' | ChargeResult)[]): PaymentGateway & { calls: number } {
  const gateway = {
    calls: 0,
    charge: () => {
      const next = script[gateway.calls++] ?? 'never';
      return next === 'never' ? new Promise<ChargeResult>(() => {}) : Promise.resolve(next);
    },
  };
  return gateway;
}

function deps(gateway: PaymentGateway, overrides: Partial<ChargeDeps> = {}): ChargeDeps {
  return {
    gateway,
    breaker: new CircuitBreaker({ failureThreshold: 10, cooldownMs: 1000 }),
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
    timeoutMs: 30,
    log: createLogger({ service: 'test', level: 'silent' }),
    now: Date.now,
    sleep: async () => {},
    random: () => 0,
    ...overrides,
  };
}

describe('charging through the breaker with retries', () => {
  it('counts a gateway call that never answers as a failed attempt and retries it with the same key', async () => {
    const gateway = scriptedGateway(['never', { status: 'succeeded', chargeId: 'ch_1' }]);
    const results: string[] = [];
    const result = await chargeWithRetries(deps(gateway, { onGatewayCall: (r) => results.push(r) }), { orderId: 'order-1', amountCents: 100 });
    expect(result).toEqual({ outcome: 'succeeded', chargeId: 'ch_1', attempts: 2, source: 'reply' });
    expect(results).toEqual(['error', 'succeeded']);
  });

  it('gives up with GatewayUnavailable when every attempt times out', async () => {
    const gateway = scriptedGateway([]);
    await expect(chargeWithRetries(deps(gateway), { orderId: 'order-2', amountCents: 100 })).rejects.toBeInstanceOf(GatewayUnavailable);
    expect(gateway.calls).toBe(3);
  });

  it("hands the gateway's last Retry-After on with GatewayUnavailable, for the retry schedule to honour", async () => {
    let calls = 0;
    const limited: PaymentGateway = {
      charge: async () => {
        calls++;
        throw new GatewayTransientError('429 Too Many Requests', { retryAfterMs: 30_000 });
      },
    };
    const failure = await chargeWithRetries(deps(limited), { orderId: 'order-3', amountCents: 100 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GatewayUnavailable);
    expect(retryAfterOf(failure)).toBe(30_000);
    expect(calls).toBe(3);
  });
});
