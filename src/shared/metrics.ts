import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from './db/client.ts';
import { pipelineReport } from './ops/stream-report.ts';
import type { Redis } from './redis.ts';

const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Where a scrape reads the pipeline's live figures (lag, pending, outbox backlog) from. */
export interface PipelineSource {
  redis: Redis;
  db: Database;
  prefix: string;
}

/**
 * One registry per process (prom-client), created by main.ts and passed in: no global registry,
 * so tests build their own. Every process exposes all metrics; each only moves the ones it owns.
 */
export function createMetrics(service: string, source?: PipelineSource) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const metrics = {
    registry,
    httpRequests: new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers }),
    httpDuration: new Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route', 'status'], buckets: SECONDS, registers }),
    ordersCreated: new Counter({ name: 'orders_created_total', help: 'Orders placed (idempotent replays not counted)', registers }),
    payments: new Counter({ name: 'payments_total', help: 'Payment outcomes recorded', labelNames: ['outcome'], registers }),
    gatewayCalls: new Histogram({ name: 'gateway_call_duration_seconds', help: 'Payment gateway call latency by result (succeeded, declined, error)', labelNames: ['result'], buckets: SECONDS, registers }),
    gatewayErrors: new Counter({ name: 'gateway_errors_total', help: 'Gateway calls that failed (timeouts, 5xx)', registers }),
    breakerState: new Gauge({ name: 'circuit_breaker_state', help: 'Payment gateway circuit breaker: 0 closed, 1 half-open, 2 open', registers }),
    processed: new Counter({ name: 'stream_entries_processed_total', help: 'Entries handled and acknowledged', labelNames: ['stream', 'group'], registers }),
    failed: new Counter({ name: 'stream_entries_failed_total', help: 'Handler failures (the entry stays pending or is dead-lettered)', labelNames: ['stream', 'group'], registers }),
    deadLettered: new Counter({ name: 'stream_entries_dead_lettered_total', help: 'Entries moved to a dead-letter stream', labelNames: ['stream', 'group'], registers }),
    claimed: new Counter({ name: 'stream_entries_claimed_total', help: 'Entries taken over from crashed or silent consumers (XAUTOCLAIM)', labelNames: ['stream', 'group'], registers }),
    processing: new Histogram({ name: 'stream_entry_processing_seconds', help: 'Time from taking an entry to acknowledging it', labelNames: ['stream', 'group'], buckets: SECONDS, registers }),
    streamLength: new Gauge({ name: 'stream_length', help: 'Entries in the stream', labelNames: ['stream'], registers }),
    groupLag: new Gauge({ name: 'stream_group_lag', help: 'Entries not yet delivered to the group', labelNames: ['stream', 'group'], registers }),
    groupPending: new Gauge({ name: 'stream_group_pending', help: 'Entries delivered but not acknowledged', labelNames: ['stream', 'group'], registers }),
    deadLetters: new Gauge({ name: 'dead_letter_stream_length', help: 'Entries waiting in a dead-letter stream', labelNames: ['stream'], registers }),
    outboxBacklog: new Gauge({ name: 'outbox_unpublished', help: 'Outbox rows not yet published to Redis', registers }),

    /** The Prometheus text, with the pipeline gauges read fresh from Redis and PostgreSQL. */
    async scrape(): Promise<string> {
      if (source) {
        try {
          const report = await pipelineReport(source);
          for (const stream of report.streams) {
            metrics.streamLength.set({ stream: stream.stream }, stream.length);
            for (const group of stream.groups) {
              metrics.groupPending.set({ stream: stream.stream, group: group.name }, group.pending);
              if (group.lag !== null) metrics.groupLag.set({ stream: stream.stream, group: group.name }, group.lag);
            }
          }
          for (const dlq of report.deadLetters) metrics.deadLetters.set({ stream: dlq.stream }, dlq.length);
          metrics.outboxBacklog.set(report.outbox.unpublished);
        } catch {
          // Redis or PostgreSQL away: the process's own counters still matter most; /health says what is down.
        }
      }
      return registry.metrics();
    },
    contentType: registry.contentType,
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

export const BREAKER_STATE_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;
