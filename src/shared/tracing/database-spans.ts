import { context, SpanKind, trace } from '@opentelemetry/api';
import { ATTR_DB_OPERATION_NAME, ATTR_DB_QUERY_SUMMARY, ATTR_DB_SYSTEM_NAME, DB_SYSTEM_NAME_VALUE_POSTGRESQL } from '@opentelemetry/semantic-conventions';
import { endSpan } from './producer-spans.ts';
import type { Tracing } from './tracing.ts';

export interface Statement {
  /** `db.query.summary`, also the span name: the operations and tables, e.g. `INSERT orders order_items outbox`. */
  summary: string;
  /** `db.operation.name`: the statement's outermost operation (`WITH`, `INSERT`, ...). */
  operation: string;
}

/**
 * A CLIENT span around one PostgreSQL statement, a child of the active span. Only for the
 * statements that carry an order's journey by writing its events (the order write, a payment batch's
 * outcomes: see the outbox writer), not for every query: those are the ones worth seeing in a trace.
 */
export async function withDatabaseSpan<T>(tracing: Tracing, statement: Statement, run: () => Promise<T>): Promise<T> {
  if (!tracing.enabled) return run();
  const span = tracing.tracer.startSpan(statement.summary, {
    kind: SpanKind.CLIENT,
    attributes: {
      [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_POSTGRESQL,
      [ATTR_DB_QUERY_SUMMARY]: statement.summary,
      [ATTR_DB_OPERATION_NAME]: statement.operation,
    },
  });
  try {
    const result = await context.with(trace.setSpan(context.active(), span), run);
    endSpan(span);
    return result;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}
