import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** The API operations a fault can be limited to. */
export const ENDPOINT_NAMES = ['create', 'confirm', 'retrieve', 'list', 'search', 'cancel', 'events'] as const;
export type EndpointName = (typeof ENDPOINT_NAMES)[number];
const EndpointNameSchema = Type.Union(ENDPOINT_NAMES.map((name) => Type.Literal(name)));

/**
 * One way to misbehave. Which requests it hits: those of `endpoints` (all when absent), then every
 * `every`-th of them, or else a `rate` share drawn from the seeded random (every one when neither is
 * given), at most `times` times in all.
 */
export const FaultRule = Type.Object(
  {
    fault: Type.Union([
      Type.Literal('latency'), // wait `ms` plus up to `jitterMs` before answering
      Type.Literal('rate_limit'), // 429 rate_limit before anything is looked at; nothing saved under the idempotency key
      Type.Literal('error_before'), // 500 before the endpoint does anything; nothing changes, nothing saved
      Type.Literal('error_after'), // the change is made, then 500; the 500 is what the idempotency key saves
      Type.Literal('drop_after'), // the change is made (and saved), then the connection is reset with no reply
      Type.Literal('processing'), // confirm answers `processing`; the outcome comes `delayMs` later, by event
    ]),
    endpoints: Type.Optional(Type.Array(EndpointNameSchema, { minItems: 1 })),
    every: Type.Optional(Type.Integer({ minimum: 1 })),
    rate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    times: Type.Optional(Type.Integer({ minimum: 0 })),
    ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    jitterMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    retryAfterSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
    delayMs: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type FaultRule = Static<typeof FaultRule>;
export type FaultKind = FaultRule['fault'];

/** Everything `POST /_sandbox/faults` sets (and STRIPE_SANDBOX_* set at start). */
export const FaultConfig = Type.Object(
  {
    rules: Type.Array(FaultRule, { default: [] }),
    /** Seed of the random that `rate` draws from, so a run can be repeated exactly. */
    seed: Type.Integer({ default: 1 }),
    /** Above this many API requests in one second, 429 rate_limit (0: no limit). */
    rateLimitPerS: Type.Integer({ default: 0, minimum: 0 }),
    /** An intent shows up in search only this long after it was created (Stripe: "under a minute"). */
    searchLagMs: Type.Integer({ default: 0, minimum: 0 }),
  },
  { additionalProperties: false },
);
export type FaultConfig = Static<typeof FaultConfig>;

export class FaultConfigError extends Error {}

/** Checks a fault config given as JSON (defaults filled in); throws naming what is wrong. */
export function parseFaultConfig(input: unknown): FaultConfig {
  const candidate = Value.Default(FaultConfig, structuredClone(input ?? {}));
  const problems = [...Value.Errors(FaultConfig, candidate)].map((error) => `${error.path || '/'}: ${error.message}`);
  if (problems.length > 0) throw new FaultConfigError(`Invalid fault config: ${problems.slice(0, 5).join('; ')}`);
  return candidate as FaultConfig;
}
