import type { Config } from '../shared/runtime/config.ts';
import { pausesConsumer } from './errors.ts';
import { createRateLimiter } from '../shared/streams/rate-limiter.ts';
import { Events, type OrderPlaced } from '../shared/pipeline/events.ts';
import { reportBreakerState } from '../shared/ops/breakers.ts';
import { createOutboxRelay } from '../shared/pipeline/outbox.ts';
import { startPeriodic } from '../shared/runtime/periodic.ts';
import { createOutboxWriter } from '../shared/pipeline/outbox-writer.ts';
import { createOrderChanges } from '../shared/pipeline/order-changes.ts';
import type { WorkerDefinition } from '../shared/worker/run-worker.ts';
import { CircuitBreaker } from './breaker.ts';
import { BREAKER_STATE_VALUE, createPaymentMetrics } from './metrics.ts';
import { createMockGateway, type MockGatewaySettings } from './mock-gateway.ts';
import { createPaymentHandler, type CrashPoint } from './handler.ts';
import type { CallBudget, PaymentGateway } from './gateway.ts';
import { createStripeGateway } from './stripe-gateway.ts';
import { createIntentRecords } from './intent-records.ts';
import { createStripeClient } from '../shared/payments/stripe-client.ts';
import type { Database } from '../shared/db/client.ts';

/**
 * The payment worker: `orders.placed` in, charges out, `payment.completed` through the outbox.
 * `gatewaySettings` defaults to the configuration; a test passes its own object to change them live.
 */
export function paymentWorker(config: Config, { gatewaySettings = config.gateway as MockGatewaySettings } = {}): WorkerDefinition<OrderPlaced> {
  return {
    service: 'payment',
    // A charge is mostly waiting on the provider: the payment consumer runs PAYMENT_CONCURRENCY at once.
    config: { ...config, consumer: { ...config.consumer, concurrency: config.payment.concurrency } },
    defaultHealthPort: 3001,
    consumes: Events.orderPlaced,
    logContext: (event) => ({ order_id: event.payload.orderId, request_id: event.requestId }),
    // An order whose charge failed every in-call retry waits in Redis for the schedule's next step.
    retrySchedule: config.paymentRetryScheduleMs,
    setup({ db, redis, log, metrics: registry, tracing }) {
      const metrics = createPaymentMetrics(registry);
      // The operations page shows each worker's breaker through its field in the deployment's breaker hash.
      const report = () => reportBreakerState(redis, config.streamPrefix, config.consumer.consumerName, breaker.state(Date.now()));
      const breaker = new CircuitBreaker(config.breaker, ({ from, to }) => {
        metrics.breakerState.set(BREAKER_STATE_VALUE[to]);
        log[to === 'open' ? 'warn' : 'info']({ from, to }, `circuit breaker ${to}`);
        void breakerReporting.runNow();
      });
      metrics.breakerState.set(BREAKER_STATE_VALUE.closed);
      const breakerReporting = startPeriodic('breaker state report', 10_000, report, log);
      if (redis.status === 'ready') void breakerReporting.runNow();
      else redis.once('ready', () => void breakerReporting.runNow());
      const relay = createOutboxRelay({ db, redis, log, streamPrefix: config.streamPrefix, tracing, ...config.relay });
      let crashed = false;
      const crash = (point: CrashPoint) => {
        if (crashed || config.testing.crashAt !== point) return;
        crashed = true;
        log.warn({ crash_at: point }, 'CRASH_AT reached: killing this process');
        process.kill(process.pid, 'SIGKILL');
      };
      // One budget for every replica: a provider's rate limit is per account, not per process.
      const rateLimit =
        config.gatewayRateLimitPerS === undefined
          ? undefined
          : createRateLimiter({ redis, key: `${config.streamPrefix}ratelimit:gateway`, ratePerS: config.gatewayRateLimitPerS, burst: Math.max(1, Math.ceil(config.gatewayRateLimitPerS)) });
      const handleBatch = createPaymentHandler({
        db,
        log,
        outbox: createOutboxWriter({ tracing, relay }),
        gateway: paymentGateway(config, { db, gatewaySettings, rateLimit, crash }),
        breaker,
        retry: config.retry,
        timeoutMs: config.gatewayTimeoutMs,
        now: Date.now,
        sleep: Bun.sleep,
        random: Math.random,
        onGatewayCall: (result, seconds) => {
          metrics.gatewayCalls.observe({ result }, seconds);
          if (result === 'error') metrics.gatewayErrors.inc();
        },
        onOutcome: (outcome) => metrics.payments.inc({ outcome }),
        // The longest step, jittered up (+20 %), plus the mover's poll and a margin.
        retryHoldMs: Math.max(...config.paymentRetryScheduleMs) * 1.2 + 10_000,
        orderChanges: createOrderChanges({ redis, prefix: config.streamPrefix, log }),
        crash,
      });
      relay.kick();
      return {
        handleBatch,
        isTransient: pausesConsumer,
        // While the breaker is open, leave new orders in the stream.
        gate: () => breaker.waitMs(Date.now()),
        healthDetails: () => ({ breaker: breaker.state(Date.now()) }),
        stop: () => Promise.all([relay.stop(), breakerReporting.stop()]),
      };
    },
  };
}

/** The configured provider: Stripe through its SDK (the default), or the in-process mock. */
function paymentGateway(
  config: Config,
  { db, gatewaySettings, rateLimit, crash }: { db: Database; gatewaySettings: MockGatewaySettings; rateLimit?: CallBudget; crash: (point: CrashPoint) => void },
): PaymentGateway {
  if (config.payment.provider === 'mock') return createMockGateway({ db, settings: gatewaySettings, rateLimit });
  return createStripeGateway({
    stripe: createStripeClient({ ...config.stripe, timeoutMs: config.gatewayTimeoutMs }),
    intents: createIntentRecords(db.$client),
    currency: config.payment.currency,
    idempotencyTtlMs: config.stripe.idempotencyTtlMs,
    live: config.stripe.live,
    rateLimit,
    crash,
  });
}
