/**
 * What a handler throws (or returns among `failed`) to say "try this entry again later": with
 * `retryAfterMs`, no sooner than that (a provider's `Retry-After`, a greylisting server's delay). The
 * consumer's retry schedule decides when otherwise; a longer `retryAfterMs` wins over its next step.
 * Any error may carry `retryAfterMs` the same way.
 */
export class RetryLater extends Error {
  readonly retryAfterMs: number | undefined;

  constructor(message: string, { retryAfterMs, cause }: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { cause });
    this.name = 'RetryLater';
    this.retryAfterMs = retryAfterMs;
  }
}

/** The `retryAfterMs` an error carries, if any. */
export function retryAfterOf(error: unknown): number | undefined {
  const value = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}
