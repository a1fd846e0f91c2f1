import { Type, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { paymentOutcome } from '../db/schema.ts';
import { PoisonMessage } from '../streams/poison-message.ts';
import { TRACELINK_FIELD, TRACEPARENT_FIELD } from '../tracing/trace-context.ts';
import { EVENT_STREAMS, type EventType } from './topology.ts';

// Patterns, not `format`s: TypeBox formats need a registry, and workers should not depend on Elysia's.
const Uuid = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const IsoTime = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' });
// Loose on purpose: a malformed trace context is ignored by the tracing, never a reason to dead-letter an order.
const TraceContext = Type.String({ maxLength: 256 });

/**
 * Events announce; PostgreSQL tells. An event carries the ids of what changed and what its producer
 * decided (a payment's outcome), never a copy of rows another process owns: the order's e-mail, lines and
 * total live in PostgreSQL and each consumer reads them there, in the statement that acts on them. So
 * there is one direction of trust (the database), nothing to keep in step, and no customer data in Redis.
 */
export const OrderPlacedPayload = Type.Object({
  orderId: Uuid,
});

export const PaymentCompletedPayload = Type.Object({
  orderId: Uuid,
  outcome: Type.Union(paymentOutcome.enumValues.map((value) => Type.Literal(value))),
  chargeId: Type.Optional(Type.String({ minLength: 1 })),
  failureReason: Type.Optional(Type.String({ minLength: 1 })),
  attempts: Type.Integer({ minimum: 1 }),
});

/** What every event carries around its payload, defined once. */
const EnvelopeProperties = {
  eventId: Uuid,
  occurredAt: IsoTime,
  // The X-Request-ID of the HTTP request that started it all: one grep follows an order everywhere.
  requestId: Type.String({ minLength: 1, maxLength: 128 }),
  // W3C trace context of the span that produced it (see src/shared/tracing/trace-context.ts); absent when tracing is off.
  [TRACEPARENT_FIELD]: Type.Optional(TraceContext),
  // Of the event this one is a copy of (reconciler re-emission, dead-letter replay): the consumer links to it.
  [TRACELINK_FIELD]: Type.Optional(TraceContext),
};

function envelope<Kind extends string, Payload extends TObject>(type: Kind, payload: Payload) {
  return Type.Object({ ...EnvelopeProperties, type: Type.Literal(type), payload });
}

export const OrderPlaced = envelope('OrderPlaced', OrderPlacedPayload);
export type OrderPlaced = Static<typeof OrderPlaced>;
export const PaymentCompleted = envelope('PaymentCompleted', PaymentCompletedPayload);
export type PaymentCompleted = Static<typeof PaymentCompleted>;

const EventBase = Type.Object({ ...EnvelopeProperties, type: Type.String(), payload: Type.Object({}) });
/** Any event: the envelope with some payload. */
export type EventBase = Static<typeof EventBase>;

const envelopeFields = new Set<string>([...Object.keys(EnvelopeProperties), 'type']);

/** The trace context an event carries (see the envelope). */
export type EventTrace = Pick<EventBase, 'traceparent' | 'tracelink'>;

/**
 * One event type: its stream, its schema, and the codec between the event and a stream entry.
 * Entries are flat so `redis-cli XRANGE` stays readable: envelope and payload fields side by side,
 * numbers as decimals, JSON only for nested values (`items`).
 */
export interface EventDefinition<Event extends EventBase> {
  type: Event['type'] & EventType;
  /** Its stream, from the topology table. */
  stream: string;
  schema: TObject;
  /** A new event with a fresh id, validated; with `trace`, carrying that trace context. */
  create(payload: Event['payload'], requestId: string, occurredAt?: Date, trace?: EventTrace): Event;
  toFields(event: Event): Record<string, string>;
  /** Parses and validates an entry; throws PoisonMessage with the reason when it is not a valid event. */
  fromFields(fields: Record<string, string>): Event;
}

function defineEvent<Event extends EventBase>(schema: TObject): EventDefinition<Event> {
  const type = (schema.properties.type as TSchema & { const: EventType }).const;
  const stream = EVENT_STREAMS[type];
  const payloadProps: TProperties = (schema.properties.payload as TObject).properties;
  for (const key of Object.keys(payloadProps)) {
    if (envelopeFields.has(key)) throw new Error(`${type}: payload field ${key} clashes with the envelope`);
  }
  const jsonFields = new Set(Object.entries(payloadProps).filter(([, s]) => isStructured(s)).map(([k]) => k));
  const numberFields = new Set(Object.entries(payloadProps).filter(([, s]) => s.type === 'integer' || s.type === 'number').map(([k]) => k));

  // Compiled once: every consumed entry is checked, so this sits on the hot path.
  const compiled = TypeCompiler.Compile(schema);
  const assertValid = (event: unknown): Event => {
    if (compiled.Check(event)) return event as unknown as Event;
    const first = compiled.Errors(event).First();
    throw new PoisonMessage(`${type} event invalid at ${first?.path || '/'}: ${first?.message ?? 'does not match the schema'}`);
  };

  return {
    type,
    stream,
    schema,
    create(payload, requestId, occurredAt = new Date(), trace = {}) {
      return assertValid({ eventId: crypto.randomUUID(), type, occurredAt: occurredAt.toISOString(), requestId, ...definedTrace(trace), payload });
    },
    toFields(event) {
      const fields: Record<string, string> = {
        eventId: event.eventId,
        type: event.type,
        occurredAt: event.occurredAt,
        requestId: event.requestId,
      };
      if (event.traceparent !== undefined) fields[TRACEPARENT_FIELD] = event.traceparent;
      if (event.tracelink !== undefined) fields[TRACELINK_FIELD] = event.tracelink;
      for (const [key, value] of Object.entries(event.payload)) {
        if (value === undefined) continue;
        fields[key] = jsonFields.has(key) ? JSON.stringify(value) : String(value);
      }
      return fields;
    },
    fromFields(fields) {
      // Runs for every consumed entry: a plain loop, no intermediate arrays.
      const payload: Record<string, unknown> = {};
      for (const key in fields) {
        if (envelopeFields.has(key)) continue;
        const raw = fields[key]!;
        payload[key] = jsonFields.has(key) ? parseJson(raw) : numberFields.has(key) ? parseNumber(raw) : raw;
      }
      const { eventId, type: entryType, occurredAt, requestId, traceparent, tracelink } = fields;
      const event: Record<string, unknown> = { eventId, type: entryType, occurredAt, requestId, payload };
      if (traceparent !== undefined) event.traceparent = traceparent;
      if (tracelink !== undefined) event.tracelink = tracelink;
      return assertValid(event);
    },
  };
}

/** Only the trace fields that are set: an absent one stays absent, in the event and in the entry. */
function definedTrace({ traceparent, tracelink }: EventTrace): EventTrace {
  return { ...(traceparent ? { traceparent } : {}), ...(tracelink ? { tracelink } : {}) };
}

function isStructured(schema: TSchema): boolean {
  return schema.type === 'object' || schema.type === 'array';
}

// Unparseable values are kept as they are, so validation reports the field by name.
function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function parseNumber(raw: string): unknown {
  return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
}

export const Events = {
  orderPlaced: defineEvent<OrderPlaced>(OrderPlaced),
  paymentCompleted: defineEvent<PaymentCompleted>(PaymentCompleted),
};

const byType = new Map<string, EventDefinition<EventBase>>(Object.values(Events).map((definition) => [definition.type, definition as unknown as EventDefinition<EventBase>]));

/** The definition of an event type, for code that handles events of every type (the relay). */
export function eventDefinitionOf(type: string): EventDefinition<EventBase> {
  const definition = byType.get(type);
  if (!definition) throw new Error(`unknown event type ${type}`);
  return definition;
}
