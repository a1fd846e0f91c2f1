type LogFn = {
  (bindings: object, message?: string): void;
  (message: string): void;
};

/** The logging the stream runner needs; a pino Logger is one. Kept to this so the library depends on no logger. */
export interface StreamLogger {
  child(bindings: Record<string, unknown>): StreamLogger;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}
