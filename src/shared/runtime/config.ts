import { hostname } from 'node:os';
import { readTracingSettings, TracingConfigError, type TracingSettings } from '../tracing/settings.ts';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { settingInMessage, type SettingKind } from './setting-in-message.ts';

/**
 * Every environment variable the services read, with its default.
 * This schema is the single source of truth: docs/configuration.md's table mirrors it.
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
  REDIS_CLUSTER_NODES: Type.Optional(
    Type.String({
      pattern: '^[^,:\\s]+:\\d{1,5}(,[^,:\\s]+:\\d{1,5})*$',
      description: 'Comma-separated host:port seeds of a Redis Cluster; when set, every process uses the cluster (REDIS_URL then only carries the password, if any)',
    }),
  ),
  STREAM_PARTITIONS: Type.Integer({
    default: 1,
    minimum: 1,
    maximum: 1024,
    description: 'Partitions per stream (orders.placed:{p}, ...), chosen by a stable hash of the order id; 1 keeps the plain stream names',
  }),
  CONSUMER_PARTITIONS: Type.Optional(
    Type.String({
      pattern: '^\\d+(-\\d+)?(,\\d+(-\\d+)?)*$',
      description: 'The partitions this worker reads, e.g. 0-2,5 (default: all), to shard consumers across processes',
    }),
  ),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({
    default: 5000,
    minimum: 100,
    maximum: 600_000,
    description: 'A Redis command with no reply this long fails (and a silent connection is torn down and reopened), so a path that drops packets cannot hang a worker or the relay',
  }),
  DATABASE_CONNECT_TIMEOUT_MS: Type.Integer({
    default: 1000,
    minimum: 100,
    maximum: 60_000,
    description: 'A new PostgreSQL connection that is not ready this long fails (and the request or worker retries); a session killed while starting can otherwise hang a connect',
  }),
  DB_STATEMENT_TIMEOUT_MS: Type.Integer({
    default: 30_000,
    minimum: 100,
    maximum: 600_000,
    description:
      "PostgreSQL's statement_timeout on every connection: no statement of ours runs longer. It bounds when an order write can still commit, so an Idempotency-Key's write window equals it and a claim is abandoned after twice it plus 1 s",
  }),
  DATABASE_POOL_SIZE: Type.Integer({
    default: 10,
    minimum: 1,
    maximum: 200,
    description: "PostgreSQL connections per process; every process's pool together must stay under the server's max_connections",
  }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535, description: 'HTTP port of the API' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'pino log level' },
  ),
  ADMIN_TOKEN: Type.Optional(
    Type.String({
      minLength: 16,
      description: 'Bearer token for the /admin endpoints (replay, purge); unset: they answer 403 and the /ops page is read-only',
    }),
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
  DB_RETRY_BUDGET_MS: Type.Integer({
    default: 2000,
    minimum: 0,
    maximum: 60_000,
    description: 'How long an API request retries transient PostgreSQL failures (a killed session, a reset connection) before answering 503',
  }),
  IDEMPOTENCY_WAIT_MS: Type.Integer({
    default: 5000,
    minimum: 1,
    maximum: 60_000,
    description: 'How long a request waits for an in-flight request with the same Idempotency-Key before answering 409',
  }),
  SSE_MAX_CONNECTIONS: Type.Integer({
    default: 2000,
    minimum: 0,
    maximum: 100_000,
    description: 'Order event streams (GET /orders/{id}/events) one API process holds open at once; past it a new one is answered 503 with Retry-After',
  }),
  SSE_KEEP_ALIVE_MS: Type.Integer({
    default: 15_000,
    minimum: 100,
    maximum: 600_000,
    description: 'How often an open order event stream gets a `:` comment line, so proxies and load balancers do not close it for silence',
  }),

  // --- Streams and consumers ---
  STREAM_PREFIX: Type.String({
    default: '',
    pattern: '^[A-Za-z0-9:._{}-]*$',
    description: 'Prefix for every stream key, so several deployments (or test runs) can share one Redis',
  }),
  CONSUMER_NAME: Type.Optional(
    Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$', description: 'This process in its consumer group (default: host name and pid)' }),
  ),
  CONSUMER_CONCURRENCY: Type.Integer({ default: 16, minimum: 1, maximum: 1024, description: "Entries a notify consumer processes at once (the payment worker's is PAYMENT_CONCURRENCY)" }),
  CONSUMER_BATCH_SIZE: Type.Integer({ default: 100, minimum: 1, maximum: 10_000, description: 'Entries fetched per XREADGROUP' }),
  CONSUMER_BLOCK_MS: Type.Integer({ default: 1000, minimum: 10, maximum: 60_000, description: 'How long one XREADGROUP waits for new entries' }),
  CLAIM_IDLE_MS: Type.Integer({
    default: 15_000,
    minimum: 100,
    description: 'How long an entry may sit unacknowledged with a silent consumer before another consumer claims it (XAUTOCLAIM)',
  }),
  MAX_DELIVERIES: Type.Integer({ default: 5, minimum: 1, maximum: 100, description: 'Deliveries before an entry goes to the dead-letter stream' }),
  STREAM_MAX_AGE_MS: Type.Integer({
    default: 3_600_000,
    minimum: 1000,
    description: 'Acknowledged stream entries older than this are trimmed (entries not yet delivered or acked are never trimmed)',
  }),
  DEAD_LETTER_MAX_LEN: Type.Integer({ default: 100_000, minimum: 100, description: 'Approximate cap on each dead-letter stream' }),
  HEALTH_PORT: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 65535, description: "A worker's /health port (default 3001 payment, 3002 notify; 0 picks a free one)" }),
  ),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, description: 'How long a process waits for in-flight work on SIGTERM' }),

  // --- Outbox and reconciliation ---
  RELAY_INTERVAL_MS: Type.Integer({ default: 1000, minimum: 10, description: 'How often the outbox relay looks for unpublished events' }),
  OUTBOX_RETENTION_MS: Type.Integer({
    default: 3_600_000,
    minimum: 1000,
    description: 'Published outbox rows are deleted after this long (must be at least RECONCILE_AFTER_MS)',
  }),
  RECONCILE_AFTER_MS: Type.Integer({
    default: 60_000,
    minimum: 100,
    description: 'An order still processing (or paid and not notified) this long after its last event gets the event emitted again',
  }),

  // --- Payment ---
  // --- Payment provider ---
  PAYMENT_PROVIDER: Type.Union([Type.Literal('stripe'), Type.Literal('mock')], {
    default: 'stripe',
    description: "Who charges the cards: `stripe` (the official SDK, against STRIPE_API_URL) or `mock` (an in-process gateway with the GATEWAY_* settings, for capacity benchmarks)",
  }),
  STRIPE_SECRET_KEY: Type.String({
    default: 'sk_test_local_sandbox',
    pattern: '^(sk|rk)_(test|live)_[A-Za-z0-9_]+$',
    description: 'Stripe API key (sk_test_... or sk_live_...); the default only works against the local sandbox',
  }),
  STRIPE_API_URL: Type.String({
    default: 'http://127.0.0.1:12111',
    pattern: '^https?://[^/\\s]+/?$',
    description: 'Where the Stripe SDK connects: the local sandbox (`bun run stripe-sandbox`) by default, https://api.stripe.com for Stripe itself',
  }),
  STRIPE_WEBHOOK_SECRET: Type.String({
    default: 'whsec_local_sandbox',
    pattern: '^whsec_[A-Za-z0-9_+/=]+$',
    description: "Signing secret of the `POST /webhooks/stripe` endpoint (whsec_...); required with a live key",
  }),
  STRIPE_IDEMPOTENCY_TTL_MS: Type.Integer({
    default: 86_400_000,
    minimum: 1000,
    description: "How long the provider keeps an idempotency key (Stripe: 24 h); an intent's create retried later than this looks the order's intent up first",
  }),
  PAYMENT_CURRENCY: Type.String({ default: 'usd', pattern: '^[a-z]{3}$', description: 'ISO currency code of every charge, lower case' }),
  PAYMENT_CONCURRENCY: Type.Integer({
    default: 256,
    minimum: 1,
    maximum: 4096,
    description: "Orders a payment worker charges at once (its consumer's concurrency): most of a charge is waiting on the provider, not CPU",
  }),
  GATEWAY_LATENCY_MS: Type.Integer({ default: 30, minimum: 0, maximum: 60_000, description: 'Mock gateway: time per call' }),
  GATEWAY_TIMEOUT_MS: Type.Integer({
    default: 10_000,
    minimum: 1,
    maximum: 600_000,
    description: 'A gateway call with no answer this long counts as a failed attempt (retried with the same idempotency key)',
  }),
  GATEWAY_ERROR_RATE: Type.Number({ default: 0.05, minimum: 0, maximum: 1, description: 'Mock gateway: share of calls failing transiently (timeout or 5xx)' }),
  GATEWAY_DECLINE_RATE: Type.Number({ default: 0.05, minimum: 0, maximum: 1, description: 'Mock gateway: share of charges declined (a final payment_failed)' }),
  GATEWAY_FLAKY_EVERY: Type.Integer({ default: 0, minimum: 0, description: "Mock gateway: every n-th order (by id) has its first GATEWAY_FLAKY_CALLS calls fail with a 503 (an issuer timing out for a while); 0: none" }),
  GATEWAY_FLAKY_CALLS: Type.Integer({ default: 3, minimum: 0, description: 'Mock gateway: how many calls of a flaky order fail before it answers' }),
  PAYMENT_RETRY_SCHEDULE_MS: Type.String({
    default: '1000,5000,30000,120000,600000',
    // Whole milliseconds from 1, comma-separated: the schema's rule, so a bad schedule is refused with the rest.
    pattern: '^\\s*[1-9][0-9]{0,8}(\\s*,\\s*[1-9][0-9]{0,8})*\\s*$',
    description:
      "Milliseconds before each retry of an order whose charge failed (every in-call retry spent), comma-separated, jittered +-20 %; the order waits in Redis meanwhile. A longer Retry-After from the provider wins. Spent: dead-lettered with every attempt's reason",
  }),
  GATEWAY_RATE_LIMIT_PER_S: Type.Optional(
    Type.Number({ exclusiveMinimum: 0, maximum: 100_000, description: 'Calls per second to the payment provider (each Stripe API call counts), shared by every payment replica (one Redis script, GCRA); unset: no limit' }),
  ),
  RETRY_MAX_ATTEMPTS: Type.Integer({ default: 4, minimum: 1, maximum: 20, description: 'Gateway calls per delivery, first try included' }),
  RETRY_BASE_DELAY_MS: Type.Integer({ default: 50, minimum: 0, description: 'First retry delay; doubles each attempt, with full jitter' }),
  RETRY_MAX_DELAY_MS: Type.Integer({ default: 2000, minimum: 0, description: 'Cap on one retry delay' }),
  BREAKER_FAILURE_THRESHOLD: Type.Integer({ default: 5, minimum: 1, description: 'Consecutive gateway failures that open the circuit breaker' }),
  BREAKER_COOLDOWN_MS: Type.Integer({ default: 5000, minimum: 10, description: 'How long the breaker stays open before one trial call (half-open)' }),
  CRASH_AT: Type.Union(
    ['none', 'before-charge', 'after-intent-created', 'after-confirm', 'after-charge', 'after-commit'].map((point) => Type.Literal(point)),
    { default: 'none', description: 'Testing only: the payment worker SIGKILLs itself at this point of its first order' },
  ),

  // --- Notifications: the customer's e-mail, the restaurant's webhook (docs/notifications.md) ---
  SMTP_URL: Type.String({
    default: 'smtp://127.0.0.1:1025',
    pattern: '^smtps?://[^/\\s]+/?$',
    description:
      'The mail server the customer e-mails go to, e.g. smtp://user:pass@smtp.example.com:587 (STARTTLS when offered) or smtps://... (TLS from the start); the default is the local mail sink `bun run dev` and compose start',
  }),
  MAIL_FROM: Type.String({
    default: 'Order service <orders@example.com>',
    pattern: '^([^<>\\r\\n]+ )?<?[^@\\s<>]+@[^@\\s<>]+>?$',
    description: "The e-mails' From, `Name <address>` or a bare address; its domain also ends every Message-ID",
  }),
  SMTP_TIMEOUT_MS: Type.Integer({
    default: 30_000,
    minimum: 100,
    maximum: 600_000,
    description: 'One e-mail handed to the mail server (connecting, queueing, every reply) with no 250 this long is a failed attempt, retried on the schedule',
  }),
  EMAIL_RETRY_SCHEDULE_MS: Type.String({
    default: '60000,300000,900000,1800000,3600000,7200000,14400000',
    pattern: '^\\s*[1-9][0-9]{0,9}(\\s*,\\s*[1-9][0-9]{0,9})*\\s*$',
    description:
      "Milliseconds before each retry of an e-mail the mail server deferred (4xx, greylisting), refused a connection for, or did not answer in time, comma-separated, jittered +-20 % (default: 1 min up to 4 h, about 8 h in all); the e-mail waits in Redis meanwhile. Spent: the delivery is `failed` and dead-lettered. A 5xx is final at once",
  }),
  ORDER_WEBHOOK_URL: Type.Optional(
    Type.String({
      pattern: '^https?://[^\\s]+$',
      description: "The restaurant's endpoint: every paid order is POSTed there as JSON, signed per Standard Webhooks; unset: no webhook (and no webhook consumer group)",
    }),
  ),
  ORDER_WEBHOOK_SECRET: Type.Optional(
    Type.String({
      pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$',
      description: 'The signing secret the restaurant verifies our webhooks with (`whsec_` and base64, as Standard Webhooks libraries generate); required with ORDER_WEBHOOK_URL',
    }),
  ),
  WEBHOOK_RETRY_SCHEDULE_MS: Type.String({
    default: '5000,300000,1800000,7200000,18000000,36000000,36000000',
    pattern: '^\\s*[1-9][0-9]{0,9}(\\s*,\\s*[1-9][0-9]{0,9})*\\s*$',
    description:
      "Milliseconds before each retry of a webhook the endpoint did not take (any answer but 2xx, or none in time), comma-separated, jittered +-20 %: the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 27 h in all). A longer Retry-After from the endpoint wins. Spent: `failed`, dead-lettered with every attempt",
  }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({
    default: 15_000,
    minimum: 100,
    maximum: 600_000,
    description: 'A webhook POST with no answer this long is a failed attempt (the endpoint should answer 2xx at once and do its work after)',
  }),
});

type Env = Static<typeof EnvSchema>;
type Setting = keyof Env;

/**
 * The settings whose values are secrets: never printed, not even when refused. A new secret is one
 * line here; a name that says it is one (`*TOKEN*`, `*SECRET*`, `*PASSWORD*`, `*_KEY`) counts even if
 * it is forgotten.
 */
const SECRET_SETTINGS: ReadonlySet<Setting> = new Set<Setting>(['ADMIN_TOKEN']);
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|_KEY$/;
// URLs carry passwords (`postgres://user:password@host/db`): printed only with the password masked.
const URL_NAME = /_URL$/;

/** How a setting may be printed in an error (see setting-in-message.ts). */
export function settingKind(name: string): SettingKind {
  if (SECRET_SETTINGS.has(name as Setting) || SECRET_NAME.test(name)) return 'secret';
  return URL_NAME.test(name) ? 'url' : 'plain';
}

/** `NAME="value"`, or less when the value is secret: the one way our config errors show a value. */
const shown = (name: Setting, value: string | undefined) => settingInMessage(name, value, settingKind(name));

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The settings grouped by concern, each group named the way the code that takes it names its
 * options, so a process spreads its part (`createConsumer({ ...config.consumer, ... })`).
 */
function toConfig(env: Env, tracing: TracingSettings) {
  return Object.freeze({
    /** The standard OTEL_* variables, checked here with the rest; the SDK reads its exporter and batch settings from them itself. */
    tracing,
    database: Object.freeze({ url: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE, connectTimeoutSeconds: env.DATABASE_CONNECT_TIMEOUT_MS / 1000, statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS }),
    redisUrl: env.REDIS_URL,
    /** Seeds of a Redis Cluster; undefined: one Redis at REDIS_URL. */
    redisClusterNodes: env.REDIS_CLUSTER_NODES?.split(',').map(parseHostPort),
    partitions: Object.freeze({ count: env.STREAM_PARTITIONS, consumed: parsePartitions(env.CONSUMER_PARTITIONS, env.STREAM_PARTITIONS) }),
    redisCommandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    logLevel: env.LOG_LEVEL,
    /** Namespace of every stream and Redis key of this deployment. */
    streamPrefix: env.STREAM_PREFIX,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    api: Object.freeze({
      port: env.PORT,
      adminToken: env.ADMIN_TOKEN,
      bodyLimitBytes: env.BODY_LIMIT_BYTES,
      idempotencyKeyTtlHours: env.IDEMPOTENCY_KEY_TTL_HOURS,
      idempotencyWaitMs: env.IDEMPOTENCY_WAIT_MS,
      dbRetry: Object.freeze({ budgetMs: env.DB_RETRY_BUDGET_MS }),
      /** The bound on when a request's statement can still commit (see keyTiming in api/services/idempotency.ts). */
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
      /** A live Stripe key charges real cards: an order must name its card (422 without one). */
      paymentMethodRequired: env.PAYMENT_PROVIDER === 'stripe' && env.STRIPE_SECRET_KEY.includes('_live_'),
      /** Verifies `POST /webhooks/stripe`. */
      stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET,
      /** GET /orders/{id}/events. */
      orderEvents: Object.freeze({
        maxConnections: env.SSE_MAX_CONNECTIONS,
        keepAliveMs: env.SSE_KEEP_ALIVE_MS,
        /** A paid order is told to the restaurant too, so its stream lasts until that delivery is over. */
        restaurantWebhook: env.ORDER_WEBHOOK_URL !== undefined,
      }),
    }),
    consumer: Object.freeze({
      consumerName: env.CONSUMER_NAME ?? `${hostname()}-${process.pid}`,
      concurrency: env.CONSUMER_CONCURRENCY,
      batchSize: env.CONSUMER_BATCH_SIZE,
      blockMs: env.CONSUMER_BLOCK_MS,
      claimIdleMs: env.CLAIM_IDLE_MS,
      maxDeliveries: env.MAX_DELIVERIES,
      maxAgeMs: env.STREAM_MAX_AGE_MS,
      deadLetterMaxLen: env.DEAD_LETTER_MAX_LEN,
    }),
    /** A worker's /health port; undefined: the worker's own default. */
    healthPort: env.HEALTH_PORT,
    relay: Object.freeze({ intervalMs: env.RELAY_INTERVAL_MS, retentionMs: env.OUTBOX_RETENTION_MS, partitions: env.STREAM_PARTITIONS }),
    reconciler: Object.freeze({ olderThanMs: env.RECONCILE_AFTER_MS }),
    gatewayTimeoutMs: env.GATEWAY_TIMEOUT_MS,
    payment: Object.freeze({
      provider: env.PAYMENT_PROVIDER,
      currency: env.PAYMENT_CURRENCY,
      concurrency: env.PAYMENT_CONCURRENCY,
    }),
    stripe: Object.freeze({
      secretKey: env.STRIPE_SECRET_KEY,
      apiUrl: env.STRIPE_API_URL,
      webhookSecret: env.STRIPE_WEBHOOK_SECRET,
      idempotencyTtlMs: env.STRIPE_IDEMPOTENCY_TTL_MS,
      /** A live key: an order must name its card (no test card stands in), and the dev webhook secret is refused. */
      live: env.STRIPE_SECRET_KEY.includes('_live_'),
    }),
    /** Delays before each scheduled retry of a failed charge (see the consumer's retrySchedule). */
    paymentRetryScheduleMs: Object.freeze(env.PAYMENT_RETRY_SCHEDULE_MS.split(',').map(Number)),
    /** Calls per second to the gateway across every replica; undefined: unlimited. */
    gatewayRateLimitPerS: env.GATEWAY_RATE_LIMIT_PER_S,
    gateway: Object.freeze({
      latencyMs: env.GATEWAY_LATENCY_MS,
      errorRate: env.GATEWAY_ERROR_RATE,
      declineRate: env.GATEWAY_DECLINE_RATE,
      flaky: Object.freeze({ every: env.GATEWAY_FLAKY_EVERY, calls: env.GATEWAY_FLAKY_CALLS }),
    }),
    retry: Object.freeze({
      maxAttempts: env.RETRY_MAX_ATTEMPTS,
      baseDelayMs: env.RETRY_BASE_DELAY_MS,
      maxDelayMs: env.RETRY_MAX_DELAY_MS,
    }),
    breaker: Object.freeze({
      failureThreshold: env.BREAKER_FAILURE_THRESHOLD,
      cooldownMs: env.BREAKER_COOLDOWN_MS,
    }),
    /** The notify worker's channels (docs/notifications.md). */
    notify: Object.freeze({
      email: Object.freeze({
        smtpUrl: env.SMTP_URL,
        from: env.MAIL_FROM,
        timeoutMs: env.SMTP_TIMEOUT_MS,
        retryScheduleMs: Object.freeze(env.EMAIL_RETRY_SCHEDULE_MS.split(',').map(Number)),
      }),
      /** Undefined: no webhook (ORDER_WEBHOOK_URL unset). The cross-checks make sure a URL comes with its secret. */
      webhook:
        env.ORDER_WEBHOOK_URL === undefined
          ? undefined
          : Object.freeze({
              url: env.ORDER_WEBHOOK_URL,
              secret: env.ORDER_WEBHOOK_SECRET ?? '',
              timeoutMs: env.WEBHOOK_TIMEOUT_MS,
              retryScheduleMs: Object.freeze(env.WEBHOOK_RETRY_SCHEDULE_MS.split(',').map(Number)),
            }),
    }),
    /** Test hooks, never production settings: kept apart so no code path mistakes them for one. */
    testing: Object.freeze({ crashAt: env.CRASH_AT }),
  });
}

/** `host:port` -> { host, port }: one seed of REDIS_CLUSTER_NODES. */
export function parseHostPort(seed: string): { host: string; port: number } {
  const [host, port] = seed.split(':');
  return { host: host!, port: Number(port) };
}

/** `0-2,5` -> [0, 1, 2, 5]; undefined -> every partition. */
function parsePartitions(spec: string | undefined, count: number): number[] {
  if (!spec) return Array.from({ length: count }, (_, i) => i);
  const chosen = new Set<number>();
  for (const part of spec.split(',')) {
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    for (let p = from; p <= to!; p++) chosen.add(p);
  }
  return [...chosen].sort((a, b) => a - b);
}

/** Rules that involve two variables at once. */
function crossChecks(env: Env): string[] {
  const problems: string[] = [];
  const consumed = parsePartitions(env.CONSUMER_PARTITIONS, env.STREAM_PARTITIONS);
  if (consumed.length === 0 || consumed.some((p) => p >= env.STREAM_PARTITIONS)) {
    problems.push(`${shown('CONSUMER_PARTITIONS', env.CONSUMER_PARTITIONS)} must name partitions between 0 and STREAM_PARTITIONS-1=${env.STREAM_PARTITIONS - 1}`);
  }
  if (env.STRIPE_SECRET_KEY.includes('_live_') && env.STRIPE_WEBHOOK_SECRET === 'whsec_local_sandbox') {
    problems.push('STRIPE_WEBHOOK_SECRET must be set to the endpoint\'s own signing secret with a live STRIPE_SECRET_KEY');
  }
  if (env.REDIS_CLUSTER_NODES && env.STREAM_PARTITIONS < 2) {
    // Plain keys hash to different slots: dead-lettering's MULTI (XADD there, XACK here) would fail with CROSSSLOT.
    problems.push(
      `STREAM_PARTITIONS=${env.STREAM_PARTITIONS} must be at least 2 with REDIS_CLUSTER_NODES: only partitioned keys carry the hash tag that keeps a stream and its dead-letter stream in one slot`,
    );
  }
  if (env.REDIS_CLUSTER_NODES && env.STREAM_PREFIX.includes('{')) {
    problems.push(
      `${shown('STREAM_PREFIX', env.STREAM_PREFIX)} must not contain '{' with REDIS_CLUSTER_NODES: a hash tag in the prefix would put every partition in one slot`,
    );
  }
  if (env.OUTBOX_RETENTION_MS < env.RECONCILE_AFTER_MS) {
    problems.push(
      `OUTBOX_RETENTION_MS=${env.OUTBOX_RETENTION_MS} must be at least RECONCILE_AFTER_MS=${env.RECONCILE_AFTER_MS} (the reconciler looks at recent outbox rows)`,
    );
  }
  if (env.ORDER_WEBHOOK_URL !== undefined && env.ORDER_WEBHOOK_SECRET === undefined) {
    problems.push(`ORDER_WEBHOOK_SECRET must be set with ${shown('ORDER_WEBHOOK_URL', env.ORDER_WEBHOOK_URL)}: the restaurant verifies every webhook with it`);
  }
  if (env.RETRY_MAX_DELAY_MS < env.RETRY_BASE_DELAY_MS) {
    problems.push(`RETRY_MAX_DELAY_MS=${env.RETRY_MAX_DELAY_MS} must be at least RETRY_BASE_DELAY_MS=${env.RETRY_BASE_DELAY_MS}`);
  }
  return problems;
}

export type Config = ReturnType<typeof toConfig>;

/**
 * Reads and validates the environment once, at start-up.
 * Throws a ConfigError that names every bad variable and the rule it breaks, with the value it had
 * unless that is a secret (a URL's password masked).
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
    problems.set(name, `${shown(name as Setting, known[name])}: ${expected} (${schema.description})`);
  }
  // The service's own name is filled in by the process (startLogAndTracing); OTEL_SERVICE_NAME still wins.
  let tracing: TracingSettings | undefined;
  try {
    tracing = readTracingSettings(env, '');
  } catch (error) {
    if (!(error instanceof TracingConfigError)) throw error;
    for (const problem of error.problems) problems.set(problem, problem);
  }
  if (problems.size > 0) throw new ConfigError([...problems.values()]);
  const cross = crossChecks(candidate as Env);
  if (cross.length > 0) throw new ConfigError(cross);
  return toConfig(candidate as Env, tracing!);
}
