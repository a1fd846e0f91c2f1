// The OTLP transformer's own protobuf wire reader (the exporter's encoder is hand-written on its
// counterpart); it has no request decoder, so the field numbers of the OTLP trace protos are below.
import { ProtobufReader } from '@opentelemetry/otlp-transformer/build/src/common/protobuf/protobuf-reader';

export type AttributeValue = string | number | boolean;

/** A span as an OTLP receiver got it, with its resource's service name; ids in lowercase hex. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  links: { traceId: string; spanId: string; attributes: Record<string, AttributeValue> }[];
  /** 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
}

export const SpanKind = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

export interface OtlpReceiver {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT (spans are posted to `<it>/v1/traces`). */
  url: string;
  spans: ReceivedSpan[];
  /** The content type of every export received. */
  contentTypes: string[];
  stop(): Promise<void>;
}

/**
 * A real OTLP/HTTP trace receiver on a free port: accepts `POST /v1/traces` as `application/json`
 * (OTLP/JSON) or `application/x-protobuf`, decodes every span and keeps it, and answers as a
 * collector does (200, an empty ExportTraceServiceResponse).
 */
export function startOtlpReceiver(): OtlpReceiver {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (request.method !== 'POST' || path !== '/v1/traces') return new Response('not found', { status: 404 });
      const contentType = request.headers.get('content-type') ?? '';
      contentTypes.push(contentType);
      if (contentType.startsWith('application/json')) {
        spans.push(...fromJson(await request.json()));
        return Response.json({});
      }
      if (contentType.startsWith('application/x-protobuf')) {
        spans.push(...fromProtobuf(new Uint8Array(await request.arrayBuffer())));
        return new Response(new Uint8Array(0), { headers: { 'content-type': 'application/x-protobuf' } });
      }
      return new Response('unsupported content type', { status: 415 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, spans, contentTypes, stop: () => server.stop(true) };
}

// --- OTLP/JSON: ids are hex strings, attribute values tagged by type ---

interface JsonValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
}
type JsonAttributes = { key: string; value: JsonValue }[] | undefined;

function jsonAttributes(list: JsonAttributes): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
  }
  return out;
}

function fromJson(body: any): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const resourceSpans of body.resourceSpans ?? []) {
    const service = String(jsonAttributes(resourceSpans.resource?.attributes)['service.name']);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        out.push({
          service,
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId || undefined,
          name: span.name,
          kind: span.kind,
          attributes: jsonAttributes(span.attributes),
          links: (span.links ?? []).map((link: any) => ({ traceId: link.traceId, spanId: link.spanId, attributes: jsonAttributes(link.attributes) })),
          status: { code: span.status?.code ?? 0, message: span.status?.message },
        });
      }
    }
  }
  return out;
}

// --- OTLP/protobuf (opentelemetry/proto/collector/trace/v1 and trace/v1, common/v1) ---

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Calls `field` for every field of the message; what it does not read is skipped. */
function eachField(bytes: Uint8Array, field: (number: number, reader: ProtobufReader, wireType: number) => boolean): void {
  const reader = new ProtobufReader(bytes);
  while (!reader.isAtEnd()) {
    const { fieldNumber, wireType } = reader.readTag();
    if (!field(fieldNumber, reader, wireType)) reader.skip(wireType);
  }
}

/** KeyValue { 1 key, 2 value: AnyValue { 1 string, 2 bool, 3 int, 4 double (skipped) } } */
function keyValue(bytes: Uint8Array, into: Record<string, AttributeValue>): void {
  let key = '';
  let value: AttributeValue | undefined;
  eachField(bytes, (number, reader) => {
    if (number === 1) key = reader.readString();
    else if (number === 2) {
      eachField(reader.readBytes(), (kind, inner) => {
        if (kind === 1) value = inner.readString();
        else if (kind === 2) value = inner.readVarint() !== 0;
        else if (kind === 3) value = inner.readVarint();
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  if (value !== undefined) into[key] = value;
}

function fromProtobuf(body: Uint8Array): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  // ExportTraceServiceRequest { 1 resource_spans }
  eachField(body, (number, reader) => {
    if (number !== 1) return false;
    let service = '';
    const spans: Omit<ReceivedSpan, 'service'>[] = [];
    // ResourceSpans { 1 resource: Resource { 1 attributes }, 2 scope_spans: ScopeSpans { 2 spans } }
    eachField(reader.readBytes(), (field, resourceSpans) => {
      if (field === 1) {
        const attributes: Record<string, AttributeValue> = {};
        eachField(resourceSpans.readBytes(), (f, resource) => (f === 1 ? (keyValue(resource.readBytes(), attributes), true) : false));
        service = String(attributes['service.name']);
      } else if (field === 2) {
        eachField(resourceSpans.readBytes(), (f, scopeSpans) => (f === 2 ? (spans.push(span(scopeSpans.readBytes())), true) : false));
      } else return false;
      return true;
    });
    out.push(...spans.map((s) => ({ service, ...s })));
    return true;
  });
  return out;
}

/** Span { 1 trace_id, 2 span_id, 4 parent_span_id, 5 name, 6 kind, 9 attributes, 13 links, 15 status { 2 message, 3 code } } */
function span(bytes: Uint8Array): Omit<ReceivedSpan, 'service'> {
  const result: Omit<ReceivedSpan, 'service'> = { traceId: '', spanId: '', name: '', kind: 0, attributes: {}, links: [], status: { code: 0 } };
  eachField(bytes, (number, reader) => {
    if (number === 1) result.traceId = hex(reader.readBytes());
    else if (number === 2) result.spanId = hex(reader.readBytes());
    else if (number === 4) result.parentSpanId = hex(reader.readBytes()) || undefined;
    else if (number === 5) result.name = reader.readString();
    else if (number === 6) result.kind = reader.readVarint();
    else if (number === 9) keyValue(reader.readBytes(), result.attributes);
    else if (number === 13) {
      // Link { 1 trace_id, 2 span_id, 4 attributes }
      const link = { traceId: '', spanId: '', attributes: {} as Record<string, AttributeValue> };
      eachField(reader.readBytes(), (f, inner) => {
        if (f === 1) link.traceId = hex(inner.readBytes());
        else if (f === 2) link.spanId = hex(inner.readBytes());
        else if (f === 4) keyValue(inner.readBytes(), link.attributes);
        else return false;
        return true;
      });
      result.links.push(link);
    } else if (number === 15) {
      eachField(reader.readBytes(), (f, inner) => {
        if (f === 2) result.status.message = inner.readString();
        else if (f === 3) result.status.code = inner.readVarint();
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return result;
}
