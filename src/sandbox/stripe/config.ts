import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FaultConfigError, parseFaultConfig, type FaultConfig, type FaultRule } from './faults/fault-config.ts';

/**
 * Every variable the sandbox reads, with its default; docs/stripe-sandbox.md mirrors this table.
 * The sandbox keeps its own settings (prefixed STRIPE_SANDBOX_): it shares nothing with the service it stands in for.
 */
export const SandboxEnv = Type.Object({
  STRIPE_SANDBOX_HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Address to listen on' }),
  STRIPE_SANDBOX_PORT: Type.Integer({ default: 12111, minimum: 0, maximum: 65535, description: 'Port to listen on (12111 as stripe-mock; 0: any free port)' }),
  STRIPE_SANDBOX_DB: Type.String({ default: ':memory:', minLength: 1, description: 'SQLite file of the ledger (intents, idempotency keys, events, deliveries); :memory: forgets on exit' }),
  STRIPE_SANDBOX_IDEMPOTENCY_TTL_MS: Type.Integer({ default: 86_400_000, minimum: 1, description: 'How long an idempotency key is kept (Stripe: 24 h)' }),
  STRIPE_SANDBOX_API_VERSION: Type.String({ default: '2026-11-18.endive', minLength: 1, description: "The account's API version: in events, and answered when a request names none" }),
  STRIPE_SANDBOX_TICK_MS: Type.Integer({ default: 25, minimum: 1, maximum: 10_000, description: 'How often due webhook deliveries and processing outcomes are looked for' }),
  STRIPE_SANDBOX_WEBHOOK_URL: Type.String({ default: '', pattern: '^(https?://[^,\\s]+(,https?://[^,\\s]+)*)?$', description: 'Comma-separated endpoints every event is POSTed to (none: no webhooks)' }),
  STRIPE_SANDBOX_WEBHOOK_SECRET: Type.String({ default: 'whsec_local_sandbox', pattern: '^whsec_\\S+$', description: 'Signing secret of the endpoints, used as-is as the HMAC key, as Stripe does' }),
  STRIPE_SANDBOX_WEBHOOK_RETRY_MS: Type.String({ default: '1000,5000,30000,300000,3600000', pattern: '^\\d+(,\\d+)*$', description: 'Delays before each retry of a failed delivery; after the last, the delivery is given up' }),
  STRIPE_SANDBOX_WEBHOOK_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 1, description: 'A delivery not answered in this long counts as failed' }),
  STRIPE_SANDBOX_LATENCY_MS: Type.Integer({ default: 0, minimum: 0, description: 'Added to every API answer' }),
  STRIPE_SANDBOX_LATENCY_JITTER_MS: Type.Integer({ default: 0, minimum: 0, description: 'Up to this much more, drawn from the seeded random' }),
  STRIPE_SANDBOX_RATE_LIMIT_PER_S: Type.Integer({ default: 0, minimum: 0, description: 'API requests per second above which 429 rate_limit is answered (0: no limit)' }),
  STRIPE_SANDBOX_SEARCH_LAG_MS: Type.Integer({ default: 0, minimum: 0, description: 'An intent shows in search only this long after it was created' }),
  STRIPE_SANDBOX_SEED: Type.Integer({ default: 1, description: 'Seed of the random that fault rates and jitter draw from' }),
  STRIPE_SANDBOX_FAULTS: Type.String({ default: '[]', description: 'JSON array of fault rules (docs/stripe-sandbox.md), active from the start' }),
});
type SandboxEnv = Static<typeof SandboxEnv>;

export interface SandboxSettings {
  host: string;
  port: number;
  dbPath: string;
  idempotencyTtlMs: number;
  apiVersion: string;
  tickMs: number;
  webhooks: {
    urls: string[];
    secret: string;
    retryScheduleMs: number[];
    timeoutMs: number;
  };
  /** The faults active at start, and what `POST /_sandbox/reset` goes back to. */
  faults: FaultConfig;
}

export class SandboxConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid stripe-sandbox settings:\n  ${problems.join('\n  ')}`);
  }
}

/** Reads the sandbox's settings from `env`; fails naming every bad variable. */
export function loadSandboxConfig(env: Record<string, string | undefined>): SandboxSettings {
  const given: Record<string, string> = {};
  for (const key of Object.keys(SandboxEnv.properties)) {
    const value = env[key]?.trim();
    // An empty variable (FOO=) means "use the default".
    if (value) given[key] = value;
  }
  const candidate = Value.Convert(SandboxEnv, Value.Default(SandboxEnv, { ...given }));
  const problems = new Map<string, string>();
  for (const error of Value.Errors(SandboxEnv, candidate)) {
    const name = error.path.replace(/^\//, '');
    if (!problems.has(name)) problems.set(name, `${name}=${JSON.stringify(given[name] ?? '')}: ${error.message} (${(error.schema as { description?: string }).description})`);
  }
  if (problems.size > 0) throw new SandboxConfigError([...problems.values()]);
  const e = candidate as SandboxEnv;
  let faults: FaultConfig;
  try {
    faults = parseFaultConfig({
      rules: [...latencyRule(e), ...(JSON.parse(e.STRIPE_SANDBOX_FAULTS) as FaultRule[])],
      seed: e.STRIPE_SANDBOX_SEED,
      rateLimitPerS: e.STRIPE_SANDBOX_RATE_LIMIT_PER_S,
      searchLagMs: e.STRIPE_SANDBOX_SEARCH_LAG_MS,
    });
  } catch (error) {
    if (!(error instanceof SyntaxError || error instanceof FaultConfigError)) throw error;
    throw new SandboxConfigError([`STRIPE_SANDBOX_FAULTS: ${error.message}`]);
  }
  return {
    host: e.STRIPE_SANDBOX_HOST,
    port: e.STRIPE_SANDBOX_PORT,
    dbPath: e.STRIPE_SANDBOX_DB,
    idempotencyTtlMs: e.STRIPE_SANDBOX_IDEMPOTENCY_TTL_MS,
    apiVersion: e.STRIPE_SANDBOX_API_VERSION,
    tickMs: e.STRIPE_SANDBOX_TICK_MS,
    webhooks: {
      urls: e.STRIPE_SANDBOX_WEBHOOK_URL ? e.STRIPE_SANDBOX_WEBHOOK_URL.split(',') : [],
      secret: e.STRIPE_SANDBOX_WEBHOOK_SECRET,
      retryScheduleMs: e.STRIPE_SANDBOX_WEBHOOK_RETRY_MS.split(',').map(Number),
      timeoutMs: e.STRIPE_SANDBOX_WEBHOOK_TIMEOUT_MS,
    },
    faults,
  };
}

function latencyRule(e: SandboxEnv): FaultRule[] {
  if (e.STRIPE_SANDBOX_LATENCY_MS === 0 && e.STRIPE_SANDBOX_LATENCY_JITTER_MS === 0) return [];
  return [{ fault: 'latency', ms: e.STRIPE_SANDBOX_LATENCY_MS, jitterMs: e.STRIPE_SANDBOX_LATENCY_JITTER_MS }];
}
