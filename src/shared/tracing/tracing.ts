import { ProxyTracerProvider, type Tracer } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { TracingSettings } from './settings.ts';

/**
 * A process's tracing: the tracer its spans come from, or, when tracing is off, a no-op one. Every
 * helper in this folder checks `enabled` first and does nothing else when it is false, so a
 * process without an OTLP endpoint pays a boolean test per call site, not a span.
 */
export interface Tracing {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Exports the finished spans still queued, now. */
  flush(): Promise<void>;
  /** Exports the spans still queued (for at most SHUTDOWN_EXPORT_MS) and stops exporting (on shutdown). */
  shutdown(): Promise<void>;
}

/** How long shutdown waits for the last export: a receiver that never answers must not hold a stopping process. */
export const SHUTDOWN_EXPORT_MS = 3000;

/** What startTracing reports its exporter's failures to; a pino Logger is one. */
export interface DiagnosticsLog {
  warn(bindings: object, message: string): void;
}

export const DISABLED_TRACING: Tracing = {
  enabled: false,
  // A proxy provider with no delegate hands out the API's no-op tracer.
  tracer: new ProxyTracerProvider().getTracer('order-service'),
  flush: async () => {},
  shutdown: async () => {},
};

/** The SDK's half of this module, loaded on first use: see startTracing. */
const sdk = () => require('./sdk.ts') as typeof import('./sdk.ts');

/**
 * Starts the OpenTelemetry SDK for this process (see startSdk), or returns DISABLED_TRACING when the
 * settings say it is off. The SDK, its resources and its two OTLP exporters are loaded only here, when
 * tracing is on: some 180 modules, 3-4 MB of a process at rest and 5-7 MB of the API's peak RSS under
 * load, that a process with tracing off (the default) never needs. `require`, not `import()`, so
 * starting stays synchronous. `exporter` is for tests.
 */
export function startTracing(settings: TracingSettings, options: { log?: DiagnosticsLog; exporter?: SpanExporter } = {}): Tracing {
  if (!settings.enabled) return DISABLED_TRACING;
  return sdk().startSdk(settings, options);
}

/** The service name the resource ends up with (OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES, else ours), for the start-up log line. */
export function resolvedServiceName(settings: TracingSettings): string {
  return sdk().detectedServiceName(settings);
}
