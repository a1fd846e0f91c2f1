/** An entry as a ProcessingHook sees it: its id, delivery count and raw fields. */
export interface ProcessedEntry {
  readonly id: string;
  readonly deliveries: number;
  readonly fields: Record<string, string>;
}

/**
 * Runs around every handler call, e.g. to trace it (the worker runtime fills it in with OpenTelemetry
 * spans; this library knows nothing of them). `process` must call `run` once and return, or throw,
 * what it did. Without a hook the handler is called directly: nothing to pay.
 */
export interface ProcessingHook {
  process<Result>(entries: readonly ProcessedEntry[], run: () => Promise<Result>): Promise<Result>;
  /**
   * Runs `work` in the context of the entry `entryId` of the call `process` is running, so what it
   * starts (spans, log lines) belongs to that entry; `BatchItem.run` calls it from inside the handler.
   */
  within<T>(entryId: string, work: () => T): T;
}
