import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Every environment variable the services read, with its default.
 * This schema is the single source of truth: the README's configuration table mirrors it.
 */
export const EnvSchema = Type.Object({
  DATABASE_URL: Type.String({
    default: 'postgres://postgres@127.0.0.1:5432/orders',
    pattern: '^postgres(ql)?://',
    description: 'PostgreSQL connection URL',
  }),
  REDIS_URL: Type.String({
    default: 'redis://127.0.0.1:6379/0',
    pattern: '^rediss?://',
    description: 'Redis connection URL',
  }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535, description: 'HTTP port of the API' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'pino log level' },
  ),
  BODY_LIMIT_BYTES: Type.Integer({
    default: 65_536,
    minimum: 1024,
    maximum: 10_485_760,
    description: 'Largest request body the API accepts (413 beyond it)',
  }),
  IDEMPOTENCY_KEY_TTL_HOURS: Type.Integer({
    default: 24,
    minimum: 24,
    description: 'How long a stored Idempotency-Key response is kept',
  }),
  IDEMPOTENCY_WAIT_MS: Type.Integer({
    default: 5000,
    minimum: 0,
    maximum: 60_000,
    description: 'How long a request waits for an in-flight request with the same Idempotency-Key before answering 409',
  }),
});

type Env = Static<typeof EnvSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function toConfig(env: Env) {
  return Object.freeze({
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    idempotencyKeyTtlHours: env.IDEMPOTENCY_KEY_TTL_HOURS,
    idempotencyWaitMs: env.IDEMPOTENCY_WAIT_MS,
  });
}

export type Config = ReturnType<typeof toConfig>;

/**
 * Reads and validates the environment once, at start-up.
 * Throws a ConfigError that names every bad variable and the value it had.
 */
export function loadConfig(env: Record<string, string | undefined> = {}): Config {
  const known: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = env[key];
    // An empty variable (FOO=) means "use the default", as it does for most tools.
    if (value !== undefined && value.trim() !== '') known[key] = value.trim();
  }
  // Default and Convert may mutate their input; keep `known` as the raw strings for error messages.
  const candidate = Value.Convert(EnvSchema, Value.Default(EnvSchema, { ...known }));
  const problems = new Map<string, string>();
  for (const error of Value.Errors(EnvSchema, candidate)) {
    const name = error.path.replace(/^\//, '');
    if (problems.has(name)) continue;
    const schema = error.schema as { description?: string; anyOf?: { const?: unknown }[] };
    const expected = schema.anyOf
      ? `expected one of ${schema.anyOf.map((option) => option.const).join(', ')}`
      : error.message.replace(/^Expected/, 'expected');
    problems.set(name, `${name}=${JSON.stringify(known[name])}: ${expected} (${schema.description})`);
  }
  if (problems.size > 0) throw new ConfigError([...problems.values()]);
  return toConfig(candidate as Env);
}
