import { ROOT_CONTEXT, SpanKind, trace, type Attributes, type Link, type Span, type Tracer } from '@opentelemetry/api';
import {
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_BATCH_SIZE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '@opentelemetry/semantic-conventions';
import type { Cluster, Redis as RedisNode } from 'ioredis';
import { markFailed } from './producer-spans.ts';
import { APP_LINK_REASON, DB_SYSTEM_NAME_REDIS } from './semconv.ts';
import { linkTo, spanContextOf, TRACEPARENT_FIELD } from './trace-context.ts';
import type { Tracing } from './tracing.ts';

/** A stream entry a pipelined command writes: its fields carry the `traceparent` of the event's publish span. */
export interface PipelinedEntry {
  readonly fields: Readonly<Record<string, string>>;
}

/** What a pipeline of one command per entry resolves with: each command's error, null (or undefined) when it succeeded. */
export type CommandErrors = readonly (Error | null | undefined)[];

/**
 * CLIENT spans around one pipeline that sends `command` once per stream entry (the outbox relay's
 * XADDs), as the Redis database conventions name them:
 *
 * - Each command is a span `<command>` (`XADD`) in the trace of the entry it writes, a child of the
 *   entry's `traceparent` (the publish span of its event, which ended at the commit): so an order's
 *   trace shows the XADD that put its event on the stream, between the publish and the process span.
 *   An entry with no `traceparent` (written while tracing was off) gets a trace of its own, as in the consumer.
 * - With several commands, one more span `PIPELINE <command>` for the round trip, with
 *   `db.operation.batch.size`. Its commands belong to as many traces, so it is a trace of its own that
 *   links to each entry's context, and each command's span links to it (`app.link.reason` = `batch`),
 *   as the consumer's batch span does (the SDK keeps 128 links a span by default, so the links back
 *   from each command are the ones that always hold). A pipeline of one is one command: no such span.
 *
 * A command's span fails with its own error; the pipeline's with the first. Off, `run` is just run.
 */
export async function withPipelineSpans(
  tracing: Tracing,
  redis: RedisNode | Cluster,
  command: string,
  entries: readonly PipelinedEntry[],
  run: () => Promise<CommandErrors>,
): Promise<CommandErrors> {
  if (!tracing.enabled) return run();
  const client = clientAttributes(redis);
  const batch = entries.length > 1 ? startPipelineSpan(tracing.tracer, command, entries, client) : undefined;
  const toBatch: Link[] = batch ? [{ context: batch.spanContext(), attributes: { [APP_LINK_REASON]: 'batch' } }] : [];
  const spans = entries.map((entry) => {
    const parent = spanContextOf(entry.fields[TRACEPARENT_FIELD]);
    return tracing.tracer.startSpan(
      command,
      { kind: SpanKind.CLIENT, root: !parent, links: toBatch, attributes: { ...client, [ATTR_DB_OPERATION_NAME]: command } },
      parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
    );
  });
  let errors: CommandErrors;
  try {
    errors = await run();
  } catch (error) {
    for (const span of spans) endCommandSpan(span, error);
    if (batch) endCommandSpan(batch, error);
    throw error;
  }
  spans.forEach((span, i) => endCommandSpan(span, errors[i] ?? undefined));
  if (batch) endCommandSpan(batch, errors.find((error) => error) ?? undefined);
  return errors;
}

function startPipelineSpan(tracer: Tracer, command: string, entries: readonly PipelinedEntry[], client: Attributes): Span {
  // The conventions' name for a Redis pipeline of one command repeated: `PIPELINE <command>`.
  const operation = `PIPELINE ${command}`;
  return tracer.startSpan(
    operation,
    {
      kind: SpanKind.CLIENT,
      root: true,
      links: entries.map((entry) => linkTo(entry.fields[TRACEPARENT_FIELD], 'batch')).filter((link): link is Link => link !== undefined),
      attributes: { ...client, [ATTR_DB_OPERATION_NAME]: operation, [ATTR_DB_OPERATION_BATCH_SIZE]: entries.length },
    },
    ROOT_CONTEXT,
  );
}

/**
 * The attributes of every span on this client: the database index it was configured with (we never
 * SELECT another; a cluster has only 0), and the address from its configuration, as the conventions
 * ask, not the node that answered. A cluster client is configured with several seed nodes, so no one
 * address describes it: it gets none.
 */
function clientAttributes(redis: RedisNode | Cluster): Attributes {
  const system = { [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_REDIS };
  if (redis.isCluster) return { ...system, [ATTR_DB_NAMESPACE]: '0' };
  const { host, port, path, db } = (redis as RedisNode).options;
  const server = path ? { [ATTR_SERVER_ADDRESS]: path } : { ...(host ? { [ATTR_SERVER_ADDRESS]: host } : {}), ...(port ? { [ATTR_SERVER_PORT]: port } : {}) };
  return { ...system, [ATTR_DB_NAMESPACE]: String(db ?? 0), ...server };
}

/** Ends a command's span; failed, it carries the Redis error prefix (`ERR`, `WRONGTYPE`, ...) as the conventions want, when Redis answered one. */
function endCommandSpan(span: Span, error: unknown): void {
  if (error !== undefined) {
    markFailed(span, error);
    const prefix = replyErrorPrefix(error);
    // `error.type` should match the status code when there is one, rather than the client's class name.
    if (prefix) span.setAttributes({ [ATTR_DB_RESPONSE_STATUS_CODE]: prefix, [ATTR_ERROR_TYPE]: prefix });
  }
  span.end();
}

/** The prefix of a Redis error reply (ioredis's ReplyError: `WRONGTYPE Operation against a key ...`); undefined for anything else (a timeout, a closed connection). */
function replyErrorPrefix(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return undefined;
  return /^[A-Z][A-Z_]*(?= |$)/.exec(error.message)?.[0];
}
