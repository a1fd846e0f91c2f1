import { CircuitOpen, GatewayUnavailable } from './errors.ts';
import type { Logger } from '../shared/runtime/log.ts';
import { withTimeout } from '../shared/runtime/with-timeout.ts';
import type { CircuitBreaker } from './breaker.ts';
import type { ChargeRequest, PaymentGateway } from './gateway.ts';
import { canRetry, nextDelay, type RetryOptions } from './retry.ts';

import type { OutcomeSource } from '../shared/payments/payment-outcomes.ts';

export type PaymentResult =
  | { outcome: 'succeeded'; chargeId: string; attempts: number; source: OutcomeSource }
  | { outcome: 'failed'; failureReason: string; attempts: number; source: OutcomeSource }
  /** Not decided yet (the provider is `processing` it): not an outcome; the webhook or a later read brings it. */
  | { outcome: 'pending'; intentId: string; attempts: number };

export interface ChargeDeps {
  gateway: PaymentGateway;
  breaker: CircuitBreaker;
  retry: RetryOptions;
  /** How long one gateway call may take before it counts as failed (GATEWAY_TIMEOUT_MS). */
  timeoutMs: number;
  log: Logger;
  now: () => number;
  sleep: (ms: number) => Promise<unknown>;
  random: () => number;
  /** Told about every gateway call (e.g. for metrics): how it went and how long it took. */
  onGatewayCall?: (result: 'succeeded' | 'declined' | 'pending' | 'error', seconds: number) => void;
}

/**
 * Charges through the breaker, retrying failures with backoff. A decline is an answer, not a
 * failure: it ends in `failed` at once and counts as a healthy gateway call. When every attempt
 * fails (GatewayUnavailable) or the breaker is open (CircuitOpen), nothing is decided: the
 * order stays `processing`; its entry waits for the retry schedule's next step (GatewayUnavailable)
 * or for the breaker to close (CircuitOpen pauses the consumer).
 */
export async function chargeWithRetries(deps: ChargeDeps, request: ChargeRequest): Promise<PaymentResult> {
  for (let attempt = 1; ; attempt++) {
    const permit = deps.breaker.tryAcquire(deps.now());
    if (!permit) throw new CircuitOpen(deps.breaker.waitMs(deps.now()));
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      // A call that never answers is a failed attempt; the idempotency key makes the retry safe even if it went through.
      const result = await withTimeout(deps.gateway.charge(request), deps.timeoutMs, 'gateway call');
      deps.onGatewayCall?.(result.status, seconds());
      deps.breaker.onResult(permit, true, deps.now());
      if (result.status === 'succeeded') return { outcome: 'succeeded', chargeId: result.chargeId, attempts: attempt, source: result.source ?? 'reply' };
      if (result.status === 'declined') return { outcome: 'failed', failureReason: result.reason, attempts: attempt, source: result.source ?? 'reply' };
      return { outcome: 'pending', intentId: result.intentId, attempts: attempt };
    } catch (error) {
      deps.onGatewayCall?.('error', seconds());
      deps.breaker.onResult(permit, false, deps.now());
      if (!canRetry(attempt, deps.retry)) throw new GatewayUnavailable(attempt, error);
      const delay = nextDelay(attempt, deps.retry, deps.random);
      deps.log.warn({ attempt, retry_in_ms: delay, err: { message: (error as Error).message } }, 'charge failed, retrying');
      await deps.sleep(delay);
    }
  }
}
