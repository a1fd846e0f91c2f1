import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** Which process is logging: `api`, `payment` or `notify`. Rides on every line. */
  service: string;
  level: string;
  /** Where lines go; stdout unless a test wants to read them back. */
  destination?: DestinationStream;
  /** Fields computed for every line, e.g. the active span's `trace_id` and `span_id` (traceLogFields) when tracing is on. */
  mixin?: () => object;
}

/**
 * One JSON object per line. Request and order ids are added by child loggers
 * (`log.child({ request_id, order_id })`), so one grep follows an order across processes.
 */
export function createLogger({ service, level, destination, mixin }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service },
      ...(mixin ? { mixin } : {}),
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ sync: true }),
  );
}
