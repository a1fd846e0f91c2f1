/**
 * An expected failure with a stable, machine-readable `code`. It says what went wrong, never how to
 * answer it: the API maps codes to HTTP statuses in one table (src/api/errors/status.ts), workers
 * put the code in their logs.
 */
export abstract class AppError extends Error {
  abstract readonly code: string;
  readonly details?: unknown;

  constructor(message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.details = options?.details;
  }
}
