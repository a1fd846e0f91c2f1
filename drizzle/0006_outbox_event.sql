-- Outbox rows hold the event (envelope and payload, as src/shared/pipeline/events.ts defines it) instead of
-- the stream fields: the relay is now the one place an event becomes fields (Events[type].toFields).
ALTER TABLE "outbox" RENAME COLUMN "fields" TO "event";--> statement-breakpoint
-- Rows still waiting to be published were written as flat fields: nest their payload so the relay can
-- encode them. Published rows are history and are left as they were.
UPDATE "outbox" SET "event" = jsonb_strip_nulls(jsonb_build_object(
    'eventId', "event"->>'eventId', 'type', "event"->>'type', 'occurredAt', "event"->>'occurredAt', 'requestId', "event"->>'requestId',
    'traceparent', "event"->>'traceparent', 'tracelink', "event"->>'tracelink'))
  || jsonb_build_object('payload', "event" - 'eventId' - 'type' - 'occurredAt' - 'requestId' - 'traceparent' - 'tracelink')
WHERE "published_at" IS NULL AND NOT "event" ? 'payload';
