import { traceLogFields } from '../tracing/log-correlation.ts';
import { readTracingSettings, TracingConfigError } from '../tracing/settings.ts';
import { resolvedServiceName, startTracing, type Tracing } from '../tracing/tracing.ts';
import { createLogger, type Logger } from './log.ts';
import { exitWith } from './startup.ts';

/**
 * For entry points: the process's logger and its tracing, configured by the standard OTEL_*
 * variables (off without an OTLP endpoint). A bad OTEL_* value prints what is wrong and exits 1, as
 * a bad Config value does. With tracing on, every log line made inside a span carries its
 * `trace_id` and `span_id`; with it off the logger is exactly what it was.
 */
export function startLogAndTracing({ service, level, env }: { service: string; level: string; env: Record<string, string | undefined> }): {
  log: Logger;
  tracing: Tracing;
} {
  let settings;
  try {
    settings = readTracingSettings(env, service);
  } catch (error) {
    if (error instanceof TracingConfigError) exitWith(error.message);
    throw error;
  }
  const log = createLogger({ service, level, mixin: settings.enabled ? traceLogFields : undefined });
  const tracing = startTracing(settings, { log });
  if (settings.enabled) {
    log.info({ endpoint: settings.endpoint, protocol: settings.protocol, service_name: resolvedServiceName(settings) }, 'tracing on: exporting spans over OTLP/HTTP');
  }
  return { log, tracing };
}
