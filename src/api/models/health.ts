import { t } from 'elysia';

export const CheckState = t.UnionEnum(['ok', 'error']);

export const HealthView = t.Object(
  {
    status: t.UnionEnum(['ok', 'unavailable']),
    checks: t.Record(t.String(), CheckState, { description: 'One entry per dependency' }),
  },
  {
    description: 'Overall status and one entry per dependency',
    examples: [{ status: 'ok', checks: { postgres: 'ok', redis: 'ok' } }],
  },
);
export type HealthView = typeof HealthView.static;
