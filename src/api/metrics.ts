import { Counter, Gauge, Histogram } from 'prom-client';
import { SECONDS_BUCKETS, type MetricsRegistry } from '../shared/runtime/metrics.ts';

/** The API's own metrics: HTTP requests and latency by route and status, and orders created. */
export function createApiMetrics(metrics: MetricsRegistry) {
  const registers = [metrics.registry];
  return {
    ...metrics,
    httpRequests: new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    ordersCreated: new Counter({ name: 'orders_created_total', help: 'Orders placed (idempotent replays not counted)', registers }),
    orderEventStreams: new Gauge({ name: 'order_event_streams', help: 'GET /orders/{id}/events streams open in this process (at most SSE_MAX_CONNECTIONS)', registers }),
    orderEventDelay: new Histogram({
      name: 'order_event_delay_seconds',
      help: "From a change's commit (payment outcome, delivery sent; PostgreSQL's clock) to its message written to the order's open streams here, once per change",
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    providerWebhooks: new Counter({
      name: 'payment_provider_webhooks_total',
      help: 'Verified Stripe webhook events by what they did: recorded, known, duplicate, ignored, pending',
      labelNames: ['result'],
      registers,
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
