import type { EventBase, EventDefinition } from './events.ts';
import { withDatabaseSpan, type Statement } from '../tracing/database-spans.ts';
import { startPublishSpan } from '../tracing/producer-spans.ts';
import { APP_EVENT_ID, APP_ORDER_ID } from '../tracing/semconv.ts';
import { DISABLED_TRACING, type Tracing } from '../tracing/tracing.ts';

/** An event about to be written to the outbox, in the statement that commits its state change. */
export interface StagedEvent<Event extends EventBase = EventBase> {
  /** The event, stamped with the context of its publish span. */
  readonly event: Event;
  readonly stream: string;
  readonly orderId: string;
  /** Ends its publish span; called by `written`. */
  readonly settle: (error?: unknown) => void;
}

/** The outbox columns of staged events, one array per column, for an `unnest(...)` in the statement that writes them. */
export interface OutboxColumns {
  eventIds: string[];
  eventTypes: string[];
  streams: string[];
  orderIds: string[];
  /** Each event as JSON text, for a `::jsonb[]` cast: the row holds envelope and payload, and the relay encodes it. */
  events: string[];
}

export function outboxColumns(staged: readonly StagedEvent[]): OutboxColumns {
  return {
    eventIds: staged.map(({ event }) => event.eventId),
    eventTypes: staged.map(({ event }) => event.type),
    streams: staged.map(({ stream }) => stream),
    orderIds: staged.map(({ orderId }) => orderId),
    events: staged.map(({ event }) => JSON.stringify(event)),
  };
}

export interface OutboxWriter {
  /**
   * Opens the event's publish span, a child of whatever is active (the HTTP request, the stream entry
   * being processed), and stamps its context on the event as `traceparent`, so the consumer's span
   * descends from it. The only place that does either.
   */
  stage<Event extends EventBase>(definition: EventDefinition<Event>, event: Event): StagedEvent<Event>;
  /**
   * Settles the staged events' spans with the statement that writes them, and returns its result. The
   * statement gets a database span named by `query`, a child of what is active (the request, the batch),
   * beside the publish spans.
   */
  written<T>(staged: readonly StagedEvent[], query: Statement, statement: Promise<T>): Promise<T>;
  /** Publish now (right after a commit) instead of waiting for the relay's next tick. */
  kick(): void;
}

/** The producing side of the outbox; `relay` is told to publish after each commit. */
export function createOutboxWriter({ tracing = DISABLED_TRACING, relay }: { tracing?: Tracing; relay: { kick(): void } }): OutboxWriter {
  return {
    stage(definition, event) {
      const orderId = (event.payload as { orderId: string }).orderId;
      const publish = startPublishSpan(tracing, definition.stream, { attributes: { [APP_ORDER_ID]: orderId, [APP_EVENT_ID]: event.eventId } });
      const stamped = publish.traceparent ? { ...event, traceparent: publish.traceparent } : event;
      return { event: stamped, stream: definition.stream, orderId, settle: publish.end };
    },
    async written(staged, query, statement) {
      try {
        const result = await withDatabaseSpan(tracing, query, () => statement);
        for (const event of staged) event.settle();
        return result;
      } catch (error) {
        for (const event of staged) event.settle(error);
        throw error;
      }
    },
    kick: () => relay.kick(),
  };
}
