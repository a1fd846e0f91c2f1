import { errorCode } from '../../shared/db/connection-error.ts';
import { backoffDelay } from '../../shared/streams/backoff.ts';
import { ServiceUnavailable } from '../errors/domain.ts';

/**
 * Database failures a request rides through by trying again: the session or connection was lost
 * (an admin or failover ended it: 57P01-57P03; any 08xxx connection exception; resets and connect
 * timeouts), or the transaction lost a race it can win on a retry (40001 serialization, 40P01
 * deadlock). Everything else (a constraint, a bad value) would fail the same way again.
 */
const RETRYABLE_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '40001',
  '40P01',
  '53300',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

export function isRetryableDbError(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && (RETRYABLE_CODES.has(code) || code.startsWith('08'));
}

export interface DbRetryOptions {
  /** The whole time a request may spend retrying before it answers 503 (DB_RETRY_BUDGET_MS). */
  budgetMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
  random?: () => number;
}

/** Short delays: a request is waiting. The project's one backoff policy, from 20 ms up to 250 ms. */
const REQUEST_BACKOFF = { baseMs: 20, maxMs: 250, jitter: 'equal' } as const;

/**
 * The delay before the next try after `attempt` failed with `error`, `elapsedMs` into the request,
 * or undefined when it must not be tried again (not retryable, or the budget would be spent).
 */
export function retryDelay(error: unknown, attempt: number, elapsedMs: number, budgetMs: number, random: () => number = Math.random): number | undefined {
  if (!isRetryableDbError(error)) return undefined;
  const delay = backoffDelay(attempt, REQUEST_BACKOFF, random);
  return elapsedMs + delay < budgetMs ? delay : undefined;
}

/**
 * Runs `work` (attempt counts from 1), again after a transient database failure, until it succeeds,
 * fails for good, or the budget is spent; then the client gets `503 service_unavailable` with
 * Retry-After, never a 500 for an outage.
 */
export async function withDbRetry<T>(work: (attempt: number) => Promise<T>, { budgetMs, now = Date.now, sleep = Bun.sleep, random = Math.random }: DbRetryOptions): Promise<T> {
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      const delay = retryDelay(error, attempt, now() - started, budgetMs, random);
      if (delay === undefined) {
        if (isRetryableDbError(error)) throw new ServiceUnavailable('PostgreSQL', error);
        throw error;
      }
      await sleep(delay);
    }
  }
}
