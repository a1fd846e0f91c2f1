/** An error as one line for logs, dead letters and `lastError`: its class and message. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
