import { traceLogFields } from '../tracing/log-correlation.ts';
import type { TracingSettings } from '../tracing/settings.ts';
import { resolvedServiceName, startTracing, type Tracing } from '../tracing/tracing.ts';
import { createLogger, type Logger } from './log.ts';

/**
 * For entry points: the process's logger and its tracing, as the Config's `tracing` settings say (the
 * standard OTEL_* variables, checked with the rest of the Config; off without an OTLP endpoint). With
 * tracing on, every log line made inside a span carries its `trace_id` and `span_id`; with it off the
 * logger is exactly what it was.
 */
export function startLogAndTracing({ service, level, tracing: configured }: { service: string; level: string; tracing: TracingSettings }): {
  log: Logger;
  tracing: Tracing;
} {
  const settings = { ...configured, serviceName: service };
  const log = createLogger({ service, level, mixin: settings.enabled ? traceLogFields : undefined });
  const tracing = startTracing(settings, { log });
  if (settings.enabled) {
    log.info({ endpoint: settings.endpoint, protocol: settings.protocol, service_name: resolvedServiceName(settings) }, 'tracing on: exporting spans over OTLP/HTTP');
  }
  return { log, tracing };
}
