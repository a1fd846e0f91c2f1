/**
 * The standard OpenTelemetry variables, as docs/tracing.md's table lists them. loadConfig reads them
 * here, with the rest of the Config, into its `tracing` settings: most are also read by the SDK itself
 * (the exporter its endpoint, headers, timeout; the batch processor its OTEL_BSP_*; the provider its
 * sampler), so this module only decides whether tracing is on and checks the values, so a bad one
 * stops the process at start-up naming the variable, as a bad Config value does.
 */
export const TRACING_VARIABLES = {
  OTEL_EXPORTER_OTLP_ENDPOINT: 'base URL of an OTLP/HTTP receiver; spans go to `<it>/v1/traces`. Unset (and no traces endpoint): tracing is off',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'the full URL for traces, used as it is; wins over OTEL_EXPORTER_OTLP_ENDPOINT',
  OTEL_EXPORTER_OTLP_PROTOCOL: '`http/protobuf` (default) or `http/json`; `grpc` is not supported (use port 4318)',
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'the same, for traces only',
  OTEL_EXPORTER_OTLP_HEADERS: 'headers sent with every export, `key=value,key2=value2` (a backend token, say); `..._TRACES_HEADERS` for traces only',
  OTEL_EXPORTER_OTLP_TIMEOUT: 'milliseconds one export may take (default 10000)',
  OTEL_EXPORTER_OTLP_COMPRESSION: '`gzip` or `none` (default)',
  OTEL_SERVICE_NAME: '`service.name` of the process; default `api`, `payment`, `notify`',
  OTEL_RESOURCE_ATTRIBUTES: 'more resource attributes, `key=value,...` (e.g. `deployment.environment.name=staging`)',
  OTEL_TRACES_SAMPLER: '`parentbased_always_on` (default), `parentbased_traceidratio`, `traceidratio`, `always_on`, `always_off`, `parentbased_always_off`',
  OTEL_TRACES_SAMPLER_ARG: 'the ratio for the `traceidratio` samplers, 0 to 1 (default 1)',
  OTEL_TRACES_EXPORTER: '`otlp` (default) or `none` (tracing off)',
  OTEL_SDK_DISABLED: '`true` turns tracing off whatever else is set',
  OTEL_BSP_SCHEDULE_DELAY: 'milliseconds between exports of finished spans (default 5000)',
  OTEL_BSP_MAX_QUEUE_SIZE: 'finished spans held for export; beyond it new ones are dropped (default 2048)',
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'spans per export request (default 512)',
  OTEL_BSP_EXPORT_TIMEOUT: 'milliseconds the batch processor gives one export (default 30000)',
} as const;

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export type TracingSettings =
  | { enabled: false; serviceName: string }
  | {
      enabled: true;
      /** Our default; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override it (see startTracing). */
      serviceName: string;
      protocol: OtlpProtocol;
      /** Where traces go, for the start-up log line; the exporter reads the variables itself. */
      endpoint: string;
    };

export class TracingConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid tracing configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'TracingConfigError';
  }
}

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];
const PROTOCOLS: OtlpProtocol[] = ['http/protobuf', 'http/json'];
const BSP = ['OTEL_BSP_SCHEDULE_DELAY', 'OTEL_BSP_MAX_QUEUE_SIZE', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'OTEL_BSP_EXPORT_TIMEOUT'] as const;

/**
 * Whether this process traces, and how. Off unless an OTLP endpoint is set; OTEL_SDK_DISABLED=true
 * or OTEL_TRACES_EXPORTER=none turn it off even then. Throws TracingConfigError naming every bad
 * value. An empty variable means unset, as for the Config variables.
 */
export function readTracingSettings(env: Record<string, string | undefined>, defaultServiceName: string): TracingSettings {
  const get = (name: keyof typeof TRACING_VARIABLES) => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const problems: string[] = [];
  const bad = (name: string, expected: string) => problems.push(`${name}=${JSON.stringify(env[name])}: expected ${expected}`);
  // A refused endpoint may still carry a password (`grpc://user:password@collector`); tracing sits below
  // the runtime's URL masking (setting-in-message.ts), so one with an `@` is named without its value.
  const badUrl = (name: string, expected: string) =>
    env[name]?.includes('@') ? problems.push(`${name} (value not shown: it may hold a password): expected ${expected}`) : bad(name, expected);

  const disabled = get('OTEL_SDK_DISABLED')?.toLowerCase();
  if (disabled !== undefined && disabled !== 'true' && disabled !== 'false') bad('OTEL_SDK_DISABLED', 'true or false');
  const exporter = get('OTEL_TRACES_EXPORTER');
  if (exporter !== undefined && exporter !== 'otlp' && exporter !== 'none') bad('OTEL_TRACES_EXPORTER', 'otlp or none (only OTLP over HTTP is built in)');

  const endpointVariable = get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const endpoint = get(endpointVariable);
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/.test(endpoint)) badUrl(endpointVariable, 'an http:// or https:// URL');

  const protocolVariable = get('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = (get(protocolVariable) ?? 'http/protobuf') as OtlpProtocol;
  if (!PROTOCOLS.includes(protocol)) bad(protocolVariable, `${PROTOCOLS.join(' or ')} (OTLP over gRPC is not built in; use the receiver's HTTP port, 4318)`);

  const sampler = get('OTEL_TRACES_SAMPLER');
  if (sampler !== undefined && !SAMPLERS.includes(sampler)) bad('OTEL_TRACES_SAMPLER', `one of ${SAMPLERS.join(', ')}`);
  const ratio = get('OTEL_TRACES_SAMPLER_ARG');
  if (ratio !== undefined && sampler?.endsWith('traceidratio') && !(/^\d+(\.\d+)?$/.test(ratio) && Number(ratio) <= 1)) {
    bad('OTEL_TRACES_SAMPLER_ARG', 'a ratio between 0 and 1');
  }
  for (const name of BSP) {
    const value = get(name);
    if (value !== undefined && !/^\d+$/.test(value)) bad(name, 'a whole number of milliseconds or spans');
  }
  if (problems.length > 0) throw new TracingConfigError(problems);

  if (disabled === 'true' || exporter === 'none' || endpoint === undefined) return { enabled: false, serviceName: defaultServiceName };
  const base = endpoint.replace(/\/+$/, '');
  return {
    enabled: true,
    serviceName: defaultServiceName,
    protocol,
    endpoint: endpointVariable === 'OTEL_EXPORTER_OTLP_ENDPOINT' ? `${base}/v1/traces` : endpoint,
  };
}
