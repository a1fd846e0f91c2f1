import { Gauge } from 'prom-client';
import type { MetricsRegistry } from '../runtime/metrics.ts';
import { pipelineReport, type PipelineSource } from './stream-report.ts';

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
  const deadLetters = new Gauge({ name: 'dead_letter_stream_length', help: 'Entries waiting in a dead-letter stream', labelNames: ['stream'], registers });
  const outboxBacklog = new Gauge({ name: 'outbox_unpublished', help: 'Outbox rows not yet published to Redis', registers });

  metrics.beforeScrape(async () => {
    const report = await pipelineReport(source);
    for (const stream of report.streams) {
      streamLength.set({ stream: stream.stream }, stream.length);
      for (const group of stream.groups) {
        groupPending.set({ stream: stream.stream, group: group.name }, group.pending);
        if (group.lag !== null) groupLag.set({ stream: stream.stream, group: group.name }, group.lag);
      }
    }
    for (const dlq of report.deadLetters) deadLetters.set({ stream: dlq.stream }, dlq.length);
    outboxBacklog.set(report.outbox.unpublished);
  });
}
