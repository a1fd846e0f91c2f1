import { context, diag, DiagLogLevel, ProxyTracerProvider, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
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

const SCOPE = 'order-service';

/**
 * Starts the OpenTelemetry SDK for this process, or returns DISABLED_TRACING when the settings say
 * it is off. Spans go through a batch processor (OTEL_BSP_*) to an OTLP/HTTP exporter, protobuf or
 * JSON as OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says; both read their endpoint, headers, timeout and
 * compression from the standard variables themselves. The context manager (AsyncLocalStorage) is
 * registered globally, so the active span follows awaits, and the log lines made inside it carry
 * its ids (see traceLogFields). `exporter` is for tests.
 */
export function startTracing(settings: TracingSettings, { log, exporter }: { log?: DiagnosticsLog; exporter?: SpanExporter } = {}): Tracing {
  if (!settings.enabled) return DISABLED_TRACING;
  if (log) {
    // The SDK reports failed exports through `diag`, silent unless a logger is set.
    const warn = (message: string, ...args: unknown[]) => log.warn({ component: 'opentelemetry', details: args.map(String) }, message);
    diag.setLogger({ error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  }
  // Our default name first, then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME over it, as the specification orders them.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(exporter ?? (settings.protocol === 'http/json' ? new OtlpJsonExporter() : new OtlpProtobufExporter()))],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  return {
    enabled: true,
    tracer: provider.getTracer(SCOPE),
    flush: () => provider.forceFlush(),
    shutdown: () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_EXPORT_MS)));
      return Promise.race([provider.shutdown(), late]).finally(() => clearTimeout(timer));
    },
  };
}

/** The service name the resource ends up with (OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES, else ours), for the start-up log line. */
export function resolvedServiceName(settings: TracingSettings): string {
  const detected = detectResources({ detectors: [envDetector] }).attributes[ATTR_SERVICE_NAME];
  return typeof detected === 'string' ? detected : settings.serviceName;
}
