import { Type } from '@sinclair/typebox';
import { t } from 'elysia';
import { DeadLetterEntry } from '../../shared/ops/dead-letters.ts';
import { DeliveryCount } from '../../shared/ops/delivery-counts.ts';
import { StatusBucket } from '../../shared/ops/orders-by-status.ts';
import { DeadLetterCount, OutboxReport, StreamReport, StreamTotal } from '../../shared/ops/stream-report.ts';

export const OpsSummary = t.Object(
  {
    generatedAt: t.String({ format: 'date-time' }),
    adminEnabled: t.Boolean({ description: 'Whether replay and purge are possible (ADMIN_TOKEN is set)' }),
    masked: t.Boolean({
      description:
        'True unless the request carried the admin token: consumer names are then opaque labels (`consumer-5f0c2a9e41`), order ids opaque labels (`ord_3b9f0c1d2e4a`, the same for one order everywhere) in dead-letter fields and reasons, e-mail addresses in reasons masked, and dead-letter fields keep only eventId, orderId (as its label), type and occurredAt (an e-mail masked, every other value `***`)',
    }),
    streams: t.Array(StreamReport, { description: 'One row per stream, or per partition of it with STREAM_PARTITIONS > 1' }),
    totals: t.Array(StreamTotal, { description: 'Each stream summed over its partitions' }),
    deadLetterCounts: t.Array(DeadLetterCount),
    deadLetters: t.Array(DeadLetterEntry, { description: 'The newest 50' }),
    outbox: OutboxReport,
    deliveries: t.Array(DeliveryCount, { description: 'Notifications not sent yet (waiting) and failed for good, per channel' }),
    breakers: t.Record(t.String(), t.String(), { description: 'Circuit breaker state by payment worker' }),
    ordersByStatus: t.Array(StatusBucket),
  },
  {
    description: 'Everything the operations page shows; masked without the admin token',
    examples: [
      {
        generatedAt: '2026-11-25T12:00:00.000Z',
        adminEnabled: true,
        masked: true,
        streams: [],
        totals: [],
        deadLetterCounts: [],
        deadLetters: [],
        outbox: { unpublished: 0, oldestUnpublishedAgeMs: null },
        deliveries: [
          { channel: 'email', waiting: 0, failed: 0, oldestWaitingSince: null },
          { channel: 'webhook', waiting: 0, failed: 0, oldestWaitingSince: null },
        ],
        breakers: { 'consumer-5f0c2a9e41': 'closed' },
        ordersByStatus: [],
      },
    ],
  },
);

export const ReplayResult = t.Object(
  { replayed: t.Array(t.Object({ id: t.String(), originalStream: t.String(), newId: t.Union([t.String(), t.Null()]) })) },
  { description: 'What was put back on its stream', examples: [{ replayed: [{ id: '1795614405774-3', originalStream: 'orders.placed', newId: '1795614999000-0' }] }] },
);

export const PurgeResult = t.Object({ purged: Type.Integer() }, { description: 'How many dead letters were deleted', examples: [{ purged: 1 }] });
