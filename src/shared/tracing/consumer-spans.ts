import { context, createContextKey, ROOT_CONTEXT, SpanKind, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';
import { endSpan, REDIS_MESSAGING } from './producer-spans.ts';
import {
  APP_DELIVERIES,
  APP_LINK_REASON,
  MESSAGING_BATCH_MESSAGE_COUNT,
  MESSAGING_CLIENT_ID,
  MESSAGING_CONSUMER_GROUP_NAME,
  MESSAGING_DESTINATION_NAME,
  MESSAGING_DESTINATION_PARTITION_ID,
  MESSAGING_MESSAGE_ID,
  MESSAGING_OPERATION_NAME,
  MESSAGING_OPERATION_TYPE,
} from './semconv.ts';
import { linkTo, spanContextOf, TRACELINK_FIELD, TRACEPARENT_FIELD } from './trace-context.ts';
import type { Tracing } from './tracing.ts';
import type { ProcessedEntry, ProcessingHook } from '../streams/processing-hook.ts';

/** An entry as the stream consumer shows it to its processing hook: the consumer's own type. */
export type ConsumedEntry = ProcessedEntry;

/** The consumer's processing hook, filled with spans: run the handler call for these entries inside them, and an item's work in its own. */
export type ConsumerSpans = ProcessingHook;

export interface ConsumerSpanOptions {
  /** The logical stream (`orders.placed`), for the span name: low cardinality, whatever the prefix and partition. */
  stream: string;
  /** The Redis key read (prefix and partition included): `messaging.destination.name`. */
  destination: string;
  group: string;
  consumer: string;
  partition?: number | null;
  /** More attributes from an entry's fields (the order id, say). */
  attributes?: (fields: Record<string, string>) => Attributes;
}

// Where a batch's per-entry contexts ride, so a handler can put an entry's own spans and log lines in its trace.
const ENTRY_CONTEXTS = createContextKey('order-service: span context of each entry being processed');

/**
 * The consumer's processing hook: a CONSUMER span `<stream> process` per entry, following the
 * messaging conventions.
 *
 * - First delivery: the span is a child of the entry's `traceparent` (the producer's publish span),
 *   so the order's trace runs on from the API to the last worker.
 * - Redelivery (deliveries > 1): a new trace that LINKS to the `traceparent` (reason `redelivery`):
 *   the first attempt is already in that trace, and a retry minutes later is a different piece of work.
 * - A copy (reconciler re-emission, dead-letter replay, which carry `tracelink`): a link to the
 *   original context (reason `origin`); its parent is the copy's own producer span, if any.
 * - A batch of several entries: one more span, the batch's, with `messaging.batch.message_count` and a
 *   link to each entry's producer; the handler runs in it (its database span is the batch's child),
 *   each entry's span links to it, and `within` (what a handler's `item.run(work)` calls) puts work for
 *   one entry in that entry's trace: spans started there are the entry span's children.
 *
 * A span fails (status ERROR) when the handler throws, or returns the entry among `failed`.
 */
export function consumerSpans(tracing: Tracing, options: ConsumerSpanOptions): ConsumerSpans {
  const { tracer } = tracing;
  const name = `${options.stream} process`;
  const common: Attributes = {
    ...REDIS_MESSAGING,
    [MESSAGING_DESTINATION_NAME]: options.destination,
    [MESSAGING_OPERATION_TYPE]: 'process',
    [MESSAGING_OPERATION_NAME]: 'process',
    [MESSAGING_CONSUMER_GROUP_NAME]: options.group,
    [MESSAGING_CLIENT_ID]: options.consumer,
    ...(options.partition === null || options.partition === undefined ? {} : { [MESSAGING_DESTINATION_PARTITION_ID]: String(options.partition) }),
  };

  function startEntrySpan(entry: ConsumedEntry, extraLinks: Link[]): { span: Span; context: Context } {
    const produced = entry.fields[TRACEPARENT_FIELD];
    const redelivered = entry.deliveries > 1;
    const parent = redelivered ? undefined : spanContextOf(produced);
    const links = [redelivered ? linkTo(produced, 'redelivery') : undefined, linkTo(entry.fields[TRACELINK_FIELD], 'origin'), ...extraLinks].filter(
      (link): link is Link => link !== undefined,
    );
    const base = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
    const span = tracer.startSpan(
      name,
      {
        kind: SpanKind.CONSUMER,
        root: !parent,
        links,
        attributes: { ...common, [MESSAGING_MESSAGE_ID]: entry.id, [APP_DELIVERIES]: entry.deliveries, ...options.attributes?.(entry.fields) },
      },
      base,
    );
    return { span, context: trace.setSpan(base, span) };
  }

  async function settle<Result>(run: () => Promise<Result>, runIn: Context, spans: [string, Span][], batch?: Span): Promise<Result> {
    let result: Result;
    try {
      result = await context.with(runIn, run);
    } catch (error) {
      for (const [, span] of spans) endSpan(span, error);
      if (batch) endSpan(batch, error);
      throw error;
    }
    const failed = (result as { failed?: { id: string; error: unknown }[] } | undefined)?.failed;
    const failures = failed?.length ? new Map(failed.map(({ id, error }) => [id, error ?? new Error('failed')])) : undefined;
    for (const [id, span] of spans) endSpan(span, failures?.get(id));
    batch?.end();
    return result;
  }

  return {
    process(entries, run) {
      if (entries.length === 1) {
        const entry = entries[0]!;
        const { span, context: entryContext } = startEntrySpan(entry, []);
        return settle(run, entryContext.setValue(ENTRY_CONTEXTS, new Map([[entry.id, entryContext]])), [[entry.id, span]]);
      }
      const batch = tracer.startSpan(
        name,
        {
          kind: SpanKind.CONSUMER,
          root: true,
          links: entries.map((entry) => linkTo(entry.fields[TRACEPARENT_FIELD], 'batch')).filter((link): link is Link => link !== undefined),
          attributes: { ...common, [MESSAGING_BATCH_MESSAGE_COUNT]: entries.length },
        },
        ROOT_CONTEXT,
      );
      const toBatch: Link = { context: batch.spanContext(), attributes: { [APP_LINK_REASON]: 'batch' } };
      const started = entries.map((entry) => [entry.id, startEntrySpan(entry, [toBatch])] as const);
      const contexts = new Map(started.map(([id, { context: entryContext }]) => [id, entryContext]));
      return settle(
        run,
        trace.setSpan(ROOT_CONTEXT, batch).setValue(ENTRY_CONTEXTS, contexts),
        started.map(([id, { span }]) => [id, span]),
        batch,
      );
    },
    within: withEntryContext,
  };
}

/** The context of the entry `id` of the batch being processed (see consumerSpans), if tracing is on. */
function entryContext(id: string): Context | undefined {
  return (context.active().getValue(ENTRY_CONTEXTS) as Map<string, Context> | undefined)?.get(id);
}

/**
 * Runs `fn` in the entry's context, so its spans and log lines belong to that entry's trace; just runs
 * it when there is none. The hook's `within`; handlers reach it through `item.run(fn)`.
 */
function withEntryContext<T>(id: string, fn: () => T): T {
  const found = entryContext(id);
  return found ? context.with(found, fn) : fn();
}
