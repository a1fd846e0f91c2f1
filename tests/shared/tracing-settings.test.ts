import { describe, expect, it } from 'bun:test';
import { Events } from '../../src/shared/pipeline/events.ts';
import { readTracingSettings, TracingConfigError } from '../../src/shared/tracing/settings.ts';
import { replayedFields, spanContextOf, traceparentOf } from '../../src/shared/tracing/trace-context.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const ORIGIN = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('the tracing settings (OTEL_* variables)', () => {
  it('are off without an OTLP endpoint, whatever else is set', () => {
    expect(readTracingSettings({}, 'api')).toEqual({ enabled: false, serviceName: 'api' });
    expect(readTracingSettings({ OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }, 'api').enabled).toBe(false);
  });

  it('send protobuf to <endpoint>/v1/traces by default, or as OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL and _TRACES_ENDPOINT say', () => {
    expect(readTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/' }, 'payment')).toEqual({
      enabled: true,
      serviceName: 'payment',
      protocol: 'http/protobuf',
      endpoint: 'http://jaeger:4318/v1/traces',
    });
    expect(
      readTracingSettings(
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector.example.com/otlp/traces',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
          OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        },
        'notify',
      ),
    ).toMatchObject({ enabled: true, protocol: 'http/json', endpoint: 'https://collector.example.com/otlp/traces' });
  });

  it('are off with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none, even with an endpoint', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' };
    expect(readTracingSettings({ ...endpoint, OTEL_SDK_DISABLED: 'TRUE' }, 'api').enabled).toBe(false);
    expect(readTracingSettings({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }, 'api').enabled).toBe(false);
    expect(readTracingSettings({ ...endpoint, OTEL_SDK_DISABLED: 'false' }, 'api').enabled).toBe(true);
  });

  it('name every bad value, so the process stops at start-up saying which', () => {
    let error: unknown;
    try {
      readTracingSettings(
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
          OTEL_TRACES_SAMPLER: 'sometimes',
          OTEL_BSP_SCHEDULE_DELAY: 'soon',
          OTEL_SDK_DISABLED: 'yes',
          OTEL_TRACES_EXPORTER: 'zipkin',
        },
        'api',
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TracingConfigError);
    const names = (error as TracingConfigError).problems.map((problem) => problem.split('=')[0]);
    expect(names.toSorted()).toEqual(
      ['OTEL_BSP_SCHEDULE_DELAY', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_SDK_DISABLED', 'OTEL_TRACES_EXPORTER', 'OTEL_TRACES_SAMPLER'].toSorted(),
    );
    expect(() => readTracingSettings({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'api')).toThrow(/OTEL_TRACES_SAMPLER_ARG="1.5"/);
  });

  it('name a refused endpoint that may hold a password without printing it', () => {
    for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) {
      let error: unknown;
      try {
        readTracingSettings({ [name]: 'grpc://collector:hunter2@otel.internal:4317' }, 'api');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(TracingConfigError);
      expect((error as TracingConfigError).message).toContain(`${name} (value not shown: it may hold a password): expected an http:// or https:// URL`);
      expect((error as TracingConfigError).message).not.toContain('hunter2');
    }
  });
});

describe('trace context in stream entries', () => {
  const payload = { orderId: '0193a5c4-7f7e-7c43-9b1e-5a9d2f4c1e11' };

  it('travels as traceparent and tracelink envelope fields, and is absent when there is none', () => {
    const traced = Events.orderPlaced.create(payload, 'req-1', undefined, { traceparent: TRACEPARENT, tracelink: ORIGIN });
    const fields = Events.orderPlaced.toFields(traced);
    expect(fields).toMatchObject({ traceparent: TRACEPARENT, tracelink: ORIGIN });
    expect(Events.orderPlaced.fromFields(fields)).toEqual(traced);
    expect(Events.orderPlaced.fromFields(fields).payload).not.toHaveProperty('traceparent');

    const plain = Events.orderPlaced.create(payload, 'req-1');
    expect(Object.keys(Events.orderPlaced.toFields(plain))).not.toContain('traceparent');
    expect(Events.orderPlaced.fromFields(Events.orderPlaced.toFields(plain))).not.toHaveProperty('traceparent');
  });

  it('never makes an entry poison when malformed: the tracing ignores it', () => {
    const fields = { ...Events.orderPlaced.toFields(Events.orderPlaced.create(payload, 'req-1')), traceparent: 'garbage' };
    expect(Events.orderPlaced.fromFields(fields).traceparent).toBe('garbage');
    expect(spanContextOf('garbage')).toBeUndefined();
    expect(spanContextOf(TRACEPARENT)).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', isRemote: true });
    expect(traceparentOf(spanContextOf(TRACEPARENT)!)).toBe(TRACEPARENT);
  });

  it('moves to tracelink when a dead letter is replayed, the replaying span becoming the parent', () => {
    expect(replayedFields({ orderId: 'o', traceparent: TRACEPARENT }, undefined)).toEqual({ orderId: 'o', tracelink: TRACEPARENT });
    expect(replayedFields({ orderId: 'o', traceparent: TRACEPARENT }, ORIGIN)).toEqual({ orderId: 'o', traceparent: ORIGIN, tracelink: TRACEPARENT });
    // A copy without its own producer still links to where it came from.
    expect(replayedFields({ orderId: 'o', tracelink: ORIGIN }, undefined)).toEqual({ orderId: 'o', tracelink: ORIGIN });
    expect(replayedFields({ orderId: 'o' }, undefined)).toEqual({ orderId: 'o' });
  });
});
