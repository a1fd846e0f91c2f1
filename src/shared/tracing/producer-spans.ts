import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import { MESSAGING_DESTINATION_NAME, MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM, MESSAGING_SYSTEM_NAME, MESSAGING_SYSTEM_REDIS } from './semconv.ts';
import { traceparentOf } from './trace-context.ts';
import type { Tracing } from './tracing.ts';

/** The attributes every messaging span of ours carries. `messaging.system` is what most backends read; `messaging.system.name` replaces it in the current conventions. */
export const REDIS_MESSAGING: Attributes = { [MESSAGING_SYSTEM]: MESSAGING_SYSTEM_REDIS, [MESSAGING_SYSTEM_NAME]: MESSAGING_SYSTEM_REDIS };

export interface PublishSpan {
  /** The context to store with the event (its `traceparent`); undefined when tracing is off. */
  readonly traceparent: string | undefined;
  /** The span as a parent, for spans made while publishing (the statement that writes the outbox row). */
  readonly context: Context;
  end(error?: unknown): void;
}

const OFF: PublishSpan = { traceparent: undefined, context: ROOT_CONTEXT, end: () => {} };

export interface PublishOptions {
  /** Default: the active context. */
  parent?: Context;
  /** A new trace (the reconciler's re-emissions): no parent, whatever is active. */
  root?: boolean;
  links?: (Link | undefined)[];
  attributes?: Attributes;
}

/**
 * A PRODUCER span `<stream> publish` for one event written to the outbox: the event's `traceparent`
 * is this span's context, so the consumer's process span descends from it. With the outbox the event
 * reaches Redis later (the relay's XADD), but it is created here, in the transaction that commits it.
 */
export function startPublishSpan(tracing: Tracing, stream: string, { parent, root, links, attributes }: PublishOptions = {}): PublishSpan {
  if (!tracing.enabled) return OFF;
  const base = root ? undefined : (parent ?? context.active());
  const span = tracing.tracer.startSpan(
    `${stream} publish`,
    {
      kind: SpanKind.PRODUCER,
      root: root ?? false,
      links: links?.filter((link) => link !== undefined),
      attributes: {
        ...REDIS_MESSAGING,
        [MESSAGING_DESTINATION_NAME]: stream,
        // `publish` as an operation type was renamed `send`; the span name keeps the word the brief and most UIs use.
        [MESSAGING_OPERATION_TYPE]: 'send',
        [MESSAGING_OPERATION_NAME]: 'publish',
        ...attributes,
      },
    },
    base,
  );
  return {
    traceparent: traceparentOf(span.spanContext()),
    context: trace.setSpan(base ?? context.active(), span),
    end: (error) => endSpan(span, error),
  };
}

/** Ends a span, marking it failed (status, `error.type`, the exception as an event) when `error` is given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) markFailed(span, error);
  span.end();
}

export function markFailed(span: Span, error: unknown): void {
  const failure = error instanceof Error ? error : new Error(String(error));
  span.recordException(failure);
  span.setAttribute(ATTR_ERROR_TYPE, failure.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
}
