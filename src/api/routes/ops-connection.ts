import { createDeadLetters } from '../../shared/ops/dead-letters.ts';
import type { AppDeps } from '../deps.ts';
import { ServiceUnavailable } from '../errors/domain.ts';

/** The Redis the operations and admin routes read, or 503 when the app was built without one. */
export function opsConnection(ops: AppDeps['ops']) {
  if (!ops) throw new ServiceUnavailable('Redis (operations)', new Error('no Redis connection given to the app'));
  return { ...ops, deadLetters: createDeadLetters(ops.redis, ops.prefix, ops.partitions) };
}
