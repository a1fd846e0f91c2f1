import { Gauge } from 'prom-client';
import type { MetricsRegistry } from '../runtime/metrics.ts';
import { pipelineReport, type PipelineSource } from './stream-report.ts';

/**
 * A consumer that has not read for this long is not counted as active. Live consumers re-read at least
 * every CONSUMER_BLOCK_MS; stopped ones stay registered in the group under their own name (host and pid,
 * so each restart adds one), which is why the plain consumer count can never reach zero.
 */
export const ACTIVE_CONSUMER_IDLE_MS = 60_000;

/**
 * The pipeline's live figures as gauges, read fresh from Redis and PostgreSQL at every scrape
 * (the same report `bun run streams` prints). Every process registers them, so any one scrape target
 * shows the whole pipeline.
 */
export function registerPipelineGauges(metrics: MetricsRegistry, source: PipelineSource): void {
  const registers = [metrics.registry];
  const streamLength = new Gauge({ name: 'stream_length', help: 'Entries in the stream', labelNames: ['stream'], registers });
  const groupLag = new Gauge({ name: 'stream_group_lag', help: 'Entries not yet delivered to the group', labelNames: ['stream', 'group'], registers });
  const groupPending = new Gauge({ name: 'stream_group_pending', help: 'Entries delivered but not acknowledged', labelNames: ['stream', 'group'], registers });
  const oldestPending = new Gauge({
    name: 'stream_group_oldest_pending_seconds',
    help: 'Idle time of the oldest entry delivered but not acknowledged (0 when none is pending)',
    labelNames: ['stream', 'group'],
    registers,
  });
  const activeConsumers = new Gauge({
    name: 'stream_group_active_consumers',
    help: `Consumers of the group that read within the last ${ACTIVE_CONSUMER_IDLE_MS / 1000} s`,
    labelNames: ['stream', 'group'],
    registers,
  });
  const retriesWaiting = new Gauge({
    name: 'stream_group_retries_waiting',
    help: "Entries waiting in the group's delayed set for their next attempt (the retry schedule)",
    labelNames: ['stream', 'group'],
    registers,
  });
  const oldestRetry = new Gauge({
    name: 'stream_group_oldest_retry_seconds',
    help: 'How long ago the longest-waiting retry of the group first failed (0 when none waits)',
    labelNames: ['stream', 'group'],
    registers,
  });
  const deliveriesWaiting = new Gauge({
    name: 'notify_deliveries_waiting',
    help: 'Notifications not sent yet and not failed, per channel: being sent, or waiting for their next attempt',
    labelNames: ['channel'],
    registers,
  });
  const deliveriesFailed = new Gauge({
    name: 'notify_deliveries_failed',
    help: 'Notifications failed for good, per channel: refused (an SMTP 5xx), or every retry spent',
    labelNames: ['channel'],
    registers,
  });
  const deadLetters = new Gauge({ name: 'dead_letter_stream_length', help: 'Entries waiting in a dead-letter stream', labelNames: ['stream'], registers });
  const outboxBacklog = new Gauge({ name: 'outbox_unpublished', help: 'Outbox rows not yet published to Redis', registers });
  const outboxOldest = new Gauge({
    name: 'outbox_oldest_unpublished_seconds',
    help: 'Age of the oldest outbox row not yet published (0 when none is waiting)',
    registers,
  });

  // A partition's series is labelled with its stream's name and partition (`orders.placed:{3}`), as
  // the consumer metrics are; with one partition, the plain name.
  const label = (stream: string, partition: number | null) => (partition === null ? stream : `${stream}:{${partition}}`);

  metrics.beforeScrape(async () => {
    const report = await pipelineReport(source);
    for (const stream of report.streams) {
      const name = label(stream.stream, stream.partition);
      streamLength.set({ stream: name }, stream.length);
      for (const group of stream.groups) {
        groupPending.set({ stream: name, group: group.name }, group.pending);
        if (group.lag !== null) groupLag.set({ stream: name, group: group.name }, group.lag);
        const labels = { stream: name, group: group.name };
        // 0 rather than no sample when nothing is pending, so an alert on it resolves instead of going stale.
        oldestPending.set(labels, (group.oldestPendingIdleMs ?? 0) / 1000);
        activeConsumers.set(labels, group.consumers.filter((consumer) => consumer.idleMs < ACTIVE_CONSUMER_IDLE_MS).length);
        retriesWaiting.set(labels, group.retries.waiting);
        oldestRetry.set(labels, group.retries.oldestSince === null ? 0 : Math.max(0, Date.now() - Date.parse(group.retries.oldestSince)) / 1000);
      }
    }
    for (const dlq of report.deadLetters) deadLetters.set({ stream: label(dlq.stream, dlq.partition) }, dlq.length);
    for (const delivery of report.deliveries) {
      deliveriesWaiting.set({ channel: delivery.channel }, delivery.waiting);
      deliveriesFailed.set({ channel: delivery.channel }, delivery.failed);
    }
    outboxBacklog.set(report.outbox.unpublished);
    outboxOldest.set((report.outbox.oldestUnpublishedAgeMs ?? 0) / 1000);
  });
}
