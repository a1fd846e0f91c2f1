import { Counter, Gauge, Histogram } from 'prom-client';
import { SECONDS_BUCKETS, type MetricsRegistry } from '../shared/runtime/metrics.ts';
import type { BreakerState } from './breaker.ts';

export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** The payment worker's metrics: outcomes, gateway calls and the breaker. */
export function createPaymentMetrics({ registry }: MetricsRegistry) {
  const registers = [registry];
  return {
    payments: new Counter({ name: 'payments_total', help: 'Payment outcomes recorded', labelNames: ['outcome'], registers }),
    gatewayCalls: new Histogram({
      name: 'gateway_call_duration_seconds',
      help: 'Payment gateway call latency by result (succeeded, declined, pending: the provider decides later, error)',
      labelNames: ['result'],
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    gatewayErrors: new Counter({ name: 'gateway_errors_total', help: 'Gateway calls that failed (timeouts, 5xx)', registers }),
    breakerState: new Gauge({ name: 'circuit_breaker_state', help: 'Payment gateway circuit breaker: 0 closed, 1 half-open, 2 open', registers }),
  };
}
