CREATE TYPE "public"."delivery_channel" AS ENUM('email', 'webhook');--> statement-breakpoint
CREATE TYPE "public"."delivery_status" AS ENUM('pending', 'sent', 'failed');--> statement-breakpoint
CREATE TABLE "deliveries" (
	"order_id" uuid NOT NULL,
	"channel" "delivery_channel" NOT NULL,
	"status" "delivery_status" DEFAULT 'pending' NOT NULL,
	"recipient" text NOT NULL,
	"outcome" "payment_outcome" NOT NULL,
	"message_id" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"sending_until" timestamp with time zone,
	"retry_until" timestamp with time zone,
	"event_id" uuid NOT NULL,
	"request_id" text NOT NULL,
	"sent_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deliveries_order_id_channel_pk" PRIMARY KEY("order_id","channel"),
	CONSTRAINT "deliveries_attempts_not_negative" CHECK ("deliveries"."attempts" >= 0),
	CONSTRAINT "deliveries_sent_has_time" CHECK (("deliveries"."status" = 'sent') = ("deliveries"."sent_at" is not null))
);
--> statement-breakpoint
-- The notifications recorded so far (a log line stood in for the e-mail then) become e-mail deliveries,
-- sent when they were recorded: after the upgrade nobody is told twice, and notified_at keeps its rows.
INSERT INTO "deliveries" ("order_id", "channel", "status", "recipient", "outcome", "attempts", "event_id", "request_id", "sent_at", "created_at", "updated_at")
SELECT "order_id", 'email', 'sent', "recipient", "outcome", 1, "event_id", "request_id", "created_at", "created_at", "created_at" FROM "notifications";--> statement-breakpoint
DROP TABLE "notifications" CASCADE;--> statement-breakpoint
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "deliveries_unsent_idx" ON "deliveries" USING btree ("channel","status","updated_at") WHERE "deliveries"."status" <> 'sent';