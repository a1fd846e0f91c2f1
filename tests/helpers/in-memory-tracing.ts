import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTracing } from '../../src/shared/tracing/tracing.ts';

/** The real SDK with an in-memory exporter: what the processes do, minus the HTTP (tests/pipeline/tracing.test.ts has that). */
export function inMemoryTracing() {
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing({ enabled: true, serviceName: 'test', protocol: 'http/json', endpoint: 'http://unused' }, { exporter });
  /** The spans ended so far, after a flush. */
  const finished = async () => {
    await tracing.flush();
    return exporter.getFinishedSpans();
  };
  return { exporter, tracing, finished };
}

export const idOf = (span: ReadableSpan) => span.spanContext().spanId;
