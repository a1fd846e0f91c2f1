import { Counter, Histogram } from 'prom-client';
import { SECONDS_BUCKETS, type MetricsRegistry } from '../runtime/metrics.ts';
import type { ConsumerObserver } from '../streams/consumer.ts';

/**
 * A worker's consumers as metrics: what each runner reports through its observer, labelled with its
 * stream (a partition's stream reads `orders.placed:{3}`) and group. Registered once per process;
 * returns an observer maker, one observer per runner.
 */
export function consumerMetrics({ registry }: MetricsRegistry): (labels: { stream: string; group: string }) => ConsumerObserver {
  const registers = [registry];
  const names = ['stream', 'group'];
  const processed = new Counter({ name: 'stream_entries_processed_total', help: 'Entries handled and acknowledged', labelNames: names, registers });
  const failed = new Counter({ name: 'stream_entries_failed_total', help: 'Handler failures (the entry stays pending or is dead-lettered)', labelNames: names, registers });
  const deadLettered = new Counter({ name: 'stream_entries_dead_lettered_total', help: 'Entries moved to a dead-letter stream', labelNames: names, registers });
  const claimed = new Counter({ name: 'stream_entries_claimed_total', help: 'Entries taken over from crashed or silent consumers (XAUTOCLAIM)', labelNames: names, registers });
  const processing = new Histogram({
    name: 'stream_entry_processing_seconds',
    help: 'Time from taking an entry to acknowledging it',
    labelNames: names,
    buckets: SECONDS_BUCKETS,
    registers,
  });
  return (labels) => ({
    processed: (seconds) => {
      processed.inc(labels);
      processing.observe(labels, seconds);
    },
    failed: () => failed.inc(labels),
    deadLettered: () => deadLettered.inc(labels),
    claimed: (count) => claimed.inc(labels, count),
  });
}
