import { Counter, Histogram } from 'prom-client';
import { SECONDS_BUCKETS, type MetricsRegistry } from '../shared/runtime/metrics.ts';

/** What an attempt came to, as counted: the labels of notify_deliveries_total. */
export type AttemptOutcome = 'sent' | 'deferred' | 'refused' | 'exhausted';

/** The notify worker's metrics, one family per process whatever channels it runs (labelled by channel). */
export function createNotifyMetrics({ registry }: MetricsRegistry) {
  const registers = [registry];
  return {
    attempts: new Counter({
      name: 'notify_delivery_attempts_total',
      help: 'Delivery attempts by channel and what came of them: sent, deferred (retried on the schedule), refused (a 5xx: failed for good), exhausted (the schedule spent: failed)',
      labelNames: ['channel', 'result'],
      registers,
    }),
    attemptSeconds: new Histogram({
      name: 'notify_delivery_attempt_seconds',
      help: 'Time of one delivery attempt (the SMTP exchange, the webhook POST) by channel',
      labelNames: ['channel'],
      buckets: SECONDS_BUCKETS,
      registers,
    }),
  };
}

export type NotifyMetrics = ReturnType<typeof createNotifyMetrics>;
