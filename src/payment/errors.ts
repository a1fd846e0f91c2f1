import { AppError } from '../shared/runtime/app-error.ts';

/** The payment gateway failed in a way worth retrying (timeout, 5xx, 429); `retryAfterMs`: what it asked for (Retry-After). */
export class GatewayTransientError extends AppError {
  readonly code = 'gateway_transient_error';
  readonly retryAfterMs: number | undefined;
  constructor(message: string, { retryAfterMs, cause }: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Every in-call retry of a charge failed: the order waits in Redis for the retry schedule's next step,
 * no sooner than the gateway's last Retry-After (`retryAfterMs`, which the consumer honours).
 */
export class GatewayUnavailable extends AppError {
  readonly code = 'gateway_unavailable';
  readonly retryAfterMs: number | undefined;
  constructor(attempts: number, cause: unknown) {
    super(`The payment gateway failed ${attempts} attempt(s) in a row`, { cause });
    this.retryAfterMs = cause instanceof GatewayTransientError ? cause.retryAfterMs : undefined;
  }
}

/** The circuit breaker is open: no call to the gateway until its cooldown is over. */
export class CircuitOpen extends AppError {
  readonly code = 'circuit_open';
  constructor(waitMs: number) {
    super(`Circuit breaker open; next trial in ${waitMs} ms`);
  }
}

/**
 * The one gateway failure that pauses the payment consumer: the breaker is open, the gateway is down
 * for every order. Any other failed charge is that order's, and waits for the retry schedule.
 */
export function pausesConsumer(error: unknown): boolean {
  return error instanceof CircuitOpen;
}
