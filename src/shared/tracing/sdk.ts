import { context, diag, DiagLogLevel, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TracingSettings } from './settings.ts';
import { SHUTDOWN_EXPORT_MS, type DiagnosticsLog, type Tracing } from './tracing.ts';

const SCOPE = 'order-service';

/**
 * The OpenTelemetry SDK of a process with tracing on; startTracing loads this file only then (see
 * there). Spans go through a batch processor (OTEL_BSP_*) to an OTLP/HTTP exporter, protobuf or JSON
 * as OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says; both read their endpoint, headers, timeout and
 * compression from the standard variables themselves. The context manager (AsyncLocalStorage) is
 * registered globally, so the active span follows awaits, and the log lines made inside it carry
 * its ids (see traceLogFields). `exporter` is for tests.
 */
export function startSdk(
  settings: Extract<TracingSettings, { enabled: true }>,
  { log, exporter }: { log?: DiagnosticsLog; exporter?: SpanExporter } = {},
): Tracing {
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

/** The service name the resource ends up with (OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES, else ours). */
export function detectedServiceName(settings: TracingSettings): string {
  const detected = detectResources({ detectors: [envDetector] }).attributes[ATTR_SERVICE_NAME];
  return typeof detected === 'string' ? detected : settings.serviceName;
}
