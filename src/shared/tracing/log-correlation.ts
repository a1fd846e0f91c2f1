import { context, isSpanContextValid, trace } from '@opentelemetry/api';

/**
 * For the logger (pino's `mixin`, see createLogger): `trace_id` and `span_id` of the active span, so
 * a log line leads to its trace and a trace to its log lines. Only installed when tracing is on.
 */
export function traceLogFields(): Record<string, string> {
  // A new object every time: pino merges the line's own fields into it.
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const spanContext = span.spanContext();
  return isSpanContextValid(spanContext) ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : {};
}
