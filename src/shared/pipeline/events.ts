import { Type, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { paymentOutcome } from '../db/schema.ts';
import { PoisonMessage } from '../streams/poison-message.ts';
import { TRACELINK_FIELD, TRACEPARENT_FIELD } from '../tracing/trace-context.ts';
import { TOPOLOGY, type EventType } from './topology.ts';

// Patterns, not `format`s: TypeBox formats need a registry, and workers should not depend on Elysia's.
const Uuid = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const IsoTime = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' });
const Cents = Type.Integer({ minimum: 0 });
// Loose on purpose: a malformed trace context is ignored by the tracing, never a reason to dead-letter an order.
const TraceContext = Type.String({ maxLength: 256 });

export const OrderPlacedPayload = Type.Object({
  orderId: Uuid,
  customerEmail: Type.String({ minLength: 3, maxLength: 254 }),
  totalCents: Cents,
  items: Type.Array(
    Type.Object({ menuItemId: Type.Integer({ minimum: 1 }), quantity: Type.Integer({ minimum: 1 }), unitPriceCents: Cents }),
    { minItems: 1 },
  ),
});

export const PaymentCompletedPayload = Type.Object({
  orderId: Uuid,
  customerEmail: Type.String({ minLength: 3, maxLength: 254 }),
  totalCents: Cents,
  outcome: Type.Union(paymentOutcome.enumValues.map((value) => Type.Literal(value))),
  chargeId: Type.Optional(Type.String({ minLength: 1 })),
  failureReason: Type.Optional(Type.String({ minLength: 1 })),
  attempts: Type.Integer({ minimum: 1 }),
});

function envelope<Kind extends string, Payload extends TObject>(type: Kind, payload: Payload) {
  return Type.Object({
    eventId: Uuid,
    type: Type.Literal(type),
    occurredAt: IsoTime,
    // The X-Request-ID of the HTTP request that started it all: one grep follows an order everywhere.
    requestId: Type.String({ minLength: 1, maxLength: 128 }),
    // W3C trace context of the span that produced it (see src/shared/tracing/trace-context.ts); absent when tracing is off.
    [TRACEPARENT_FIELD]: Type.Optional(TraceContext),
    // Of the event this one is a copy of (reconciler re-emission, dead-letter replay): the consumer links to it.
    [TRACELINK_FIELD]: Type.Optional(TraceContext),
    payload,
  });
}

export const OrderPlaced = envelope('OrderPlaced', OrderPlacedPayload);
export type OrderPlaced = Static<typeof OrderPlaced>;
export const PaymentCompleted = envelope('PaymentCompleted', PaymentCompletedPayload);
export type PaymentCompleted = Static<typeof PaymentCompleted>;

const ENVELOPE_FIELDS = ['eventId', 'type', 'occurredAt', 'requestId', TRACEPARENT_FIELD, TRACELINK_FIELD] as const;
const envelopeFields = new Set<string>(ENVELOPE_FIELDS);

export interface EventBase {
  eventId: string;
  type: string;
  occurredAt: string;
  requestId: string;
  traceparent?: string;
  tracelink?: string;
  payload: object;
}

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
  const { stream } = TOPOLOGY[type];
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
