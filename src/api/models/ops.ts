import { Type } from '@sinclair/typebox';
import { t } from 'elysia';

const Group = t.Object({
  name: t.String(),
  consumers: t.Array(t.Object({ name: t.String(), pending: Type.Integer(), idleMs: Type.Integer() })),
  pending: Type.Integer(),
  lag: t.Union([Type.Integer(), t.Null()]),
  lastDeliveredId: t.String(),
  oldestPendingIdleMs: t.Union([Type.Integer(), t.Null()]),
});

export const DeadLetterView = t.Object({
  id: t.String(),
  deadLetterStream: t.String(),
  originalStream: t.String(),
  originalId: t.String(),
  group: t.String(),
  consumer: t.String(),
  error: t.String(),
  deliveries: Type.Integer(),
  deadLetteredAt: t.String(),
  fields: t.Record(t.String(), t.String()),
});

export const OpsSummary = t.Object(
  {
    generatedAt: t.String({ format: 'date-time' }),
    adminEnabled: t.Boolean({ description: 'Whether replay and purge are possible (ADMIN_TOKEN is set)' }),
    streams: t.Array(
      t.Object({
        stream: t.String(),
        key: t.String(),
        length: Type.Integer(),
        firstId: t.Union([t.String(), t.Null()]),
        lastId: t.Union([t.String(), t.Null()]),
        groups: t.Array(Group),
      }),
    ),
    deadLetterCounts: t.Array(t.Object({ stream: t.String(), key: t.String(), length: Type.Integer() })),
    deadLetters: t.Array(DeadLetterView, { description: 'The newest 50' }),
    outbox: t.Object({ unpublished: Type.Integer(), oldestUnpublishedAgeMs: t.Union([t.Number(), t.Null()]) }),
    breakers: t.Record(t.String(), t.String(), { description: 'Circuit breaker state by payment worker' }),
    ordersByStatus: t.Array(t.Object({ minute: t.String(), processing: Type.Integer(), paid: Type.Integer(), payment_failed: Type.Integer() })),
  },
  { description: 'Everything the operations page shows', examples: [{ generatedAt: '2026-11-25T12:00:00.000Z', adminEnabled: false, streams: [], deadLetterCounts: [], deadLetters: [], outbox: { unpublished: 0, oldestUnpublishedAgeMs: null }, breakers: { 'vm-1234': 'closed' }, ordersByStatus: [] }] },
);

export const ReplayResult = t.Object(
  { replayed: t.Array(t.Object({ id: t.String(), originalStream: t.String(), newId: t.Union([t.String(), t.Null()]) })) },
  { description: 'What was put back on its stream', examples: [{ replayed: [{ id: '1795614405774-3', originalStream: 'orders.placed', newId: '1795614999000-0' }] }] },
);

export const PurgeResult = t.Object({ purged: Type.Integer() }, { description: 'How many dead letters were deleted', examples: [{ purged: 1 }] });
