import { t } from 'elysia';
import { LIVE_STATUSES, READY_STATUSES } from '../../shared/runtime/probes.ts';

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

export const LiveView = t.Object(
  { status: t.UnionEnum([...LIVE_STATUSES]) },
  {
    description: 'The process runs and its event loop answers; no dependency is asked',
    examples: [{ status: 'ok' }],
  },
);

export const ReadyView = t.Object(
  {
    status: t.UnionEnum([...READY_STATUSES]),
    checks: t.Record(t.String(), CheckState, { description: 'One entry per dependency (none once shutting down)' }),
  },
  {
    description: 'Whether every dependency it cannot work without answers, so the process can take work',
    examples: [{ status: 'ok', checks: { postgres: 'ok' } }],
  },
);
