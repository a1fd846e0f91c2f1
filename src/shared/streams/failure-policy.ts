import { PoisonMessage } from './poison-message.ts';

/**
 * What a failed entry is: `poison` can never succeed (bad schema, unknown order); `transient` means a
 * dependency is away, not that the entry is bad (PostgreSQL down, breaker open); anything else
 * `failed` and may succeed on a later delivery.
 */
export type FailureKind = 'poison' | 'transient' | 'failed';

/**
 * What the runner does about it:
 * - `dead-letter`: move it to the dead-letter stream and acknowledge it there, in one MULTI;
 * - `pause`: keep it pending for this consumer, stop taking work until the dependency answers, then retry it;
 * - `leave-pending`: keep it pending; a later delivery (a claim after CLAIM_IDLE_MS) retries it.
 */
export type FailureDecision = 'dead-letter' | 'pause' | 'leave-pending';

export function classifyFailure(error: unknown, isTransient: (error: unknown) => boolean): FailureKind {
  if (error instanceof PoisonMessage) return 'poison';
  return isTransient(error) ? 'transient' : 'failed';
}

/** An outage never counts against MAX_DELIVERIES; any other failure dead-letters on the last delivery. */
export function decideFailure(kind: FailureKind, deliveries: number, maxDeliveries: number): FailureDecision {
  if (kind === 'poison') return 'dead-letter';
  if (kind === 'transient') return 'pause';
  return deliveries >= maxDeliveries ? 'dead-letter' : 'leave-pending';
}

/** A claimed entry already delivered more than MAX_DELIVERIES times (its consumers kept crashing on it) is not run again. */
export function decideClaimed(deliveries: number, maxDeliveries: number): 'dead-letter' | 'process' {
  return deliveries > maxDeliveries ? 'dead-letter' : 'process';
}
