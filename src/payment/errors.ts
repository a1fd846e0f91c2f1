import { AppError } from '../shared/runtime/app-error.ts';

/** The payment gateway failed in a way worth retrying (timeout, 5xx). */
export class GatewayTransientError extends AppError {
  readonly code = 'gateway_transient_error';
}

/** Every retry of a charge failed: the order waits in the stream for a later delivery. */
export class GatewayUnavailable extends AppError {
  readonly code = 'gateway_unavailable';
  constructor(attempts: number, cause: unknown) {
    super(`The payment gateway failed ${attempts} attempt(s) in a row`, { cause });
  }
}

/** The circuit breaker is open: no call to the gateway until its cooldown is over. */
export class CircuitOpen extends AppError {
  readonly code = 'circuit_open';
  constructor(waitMs: number) {
    super(`Circuit breaker open; next trial in ${waitMs} ms`);
  }
}
