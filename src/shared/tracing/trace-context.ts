import { context, isSpanContextValid, ROOT_CONTEXT, trace, type Link, type SpanContext } from '@opentelemetry/api';
import { parseTraceParent } from '@opentelemetry/core';
import { APP_LINK_REASON } from './semconv.ts';

/**
 * The stream entry fields that carry trace context, beside the event's own:
 *   traceparent  W3C trace context of the span that produced the entry: the consumer's span is its child
 *   tracelink    W3C trace context the entry was first produced in, when this entry is a copy of it
 *                (re-emitted by the reconciler, replayed from a dead-letter stream): the consumer's span
 *                links to it instead of descending from it
 */
export const TRACEPARENT_FIELD = 'traceparent';
export const TRACELINK_FIELD = 'tracelink';

/** A span context as a W3C `traceparent` (version 00); undefined for an invalid (no-op) one. */
export function traceparentOf(spanContext: SpanContext): string | undefined {
  if (!isSpanContextValid(spanContext)) return undefined;
  return `00-${spanContext.traceId}-${spanContext.spanId}-${(spanContext.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** A `traceparent` as a remote span context; undefined when absent or malformed (never a reason to fail an entry). */
export function spanContextOf(traceparent: string | undefined): SpanContext | undefined {
  if (!traceparent) return undefined;
  const parsed = parseTraceParent(traceparent);
  return parsed && isSpanContextValid(parsed) ? { ...parsed, isRemote: true } : undefined;
}

/** The `traceparent` of the active span, if any (none when tracing is off). */
export function activeTraceparent(): string | undefined {
  const span = trace.getSpan(context.active());
  return span ? traceparentOf(span.spanContext()) : undefined;
}

/** A link to a `traceparent`, with the reason it is a link; undefined when there is nothing to link to. */
export function linkTo(traceparent: string | undefined, reason: string): Link | undefined {
  const spanContext = spanContextOf(traceparent);
  return spanContext && { context: spanContext, attributes: { [APP_LINK_REASON]: reason } };
}

/**
 * The fields of an entry put back on its stream (a dead-letter replay): the context it was produced
 * in becomes its `tracelink`, so the new processing links to the old trace rather than pretending to
 * be part of it, and the replay's own span (the admin request's, when tracing is on) its parent.
 */
export function replayedFields(fields: Record<string, string>, parent = activeTraceparent()): Record<string, string> {
  const { [TRACEPARENT_FIELD]: produced, [TRACELINK_FIELD]: origin, ...rest } = fields;
  const link = produced ?? origin;
  return { ...rest, ...(parent ? { [TRACEPARENT_FIELD]: parent } : {}), ...(link ? { [TRACELINK_FIELD]: link } : {}) };
}

/**
 * Runs `fn` outside any trace: for work a request or an entry only sets off (a relay kick), which is
 * the process's own and must not join, or label its log lines with, the trace of whoever kicked it.
 */
export function detached<T>(fn: () => T): T {
  return context.with(ROOT_CONTEXT, fn);
}
