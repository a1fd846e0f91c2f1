import type { Config } from '../shared/config.ts';
import { CircuitOpen, GatewayTransientError, GatewayUnavailable } from '../shared/errors.ts';
import { Events, GROUPS, STREAMS, type OrderPlaced } from '../shared/events.ts';
import { BREAKER_STATE_VALUE } from '../shared/metrics.ts';
import { reportBreakerState } from '../shared/ops/breakers.ts';
import { createOutboxRelay, relaySettings } from '../shared/outbox.ts';
import { startPeriodic } from '../shared/periodic.ts';
import type { WorkerSpec } from '../shared/worker-runtime.ts';
import { CircuitBreaker } from './breaker.ts';
import { createMockGateway, type MockGatewaySettings } from './gateway.ts';
import { createPaymentHandler, type CrashPoint } from './worker.ts';

/**
 * The payment worker: `orders.placed` in, charges out, `payment.completed` through the outbox.
 * `gatewaySettings` defaults to the configuration; a test passes its own object to change them live.
 */
export function paymentWorker(config: Config, { gatewaySettings = config.gateway as MockGatewaySettings } = {}): WorkerSpec<OrderPlaced> {
  return {
    service: 'payment',
    config,
    defaultHealthPort: 3001,
    stream: STREAMS.ordersPlaced,
    group: GROUPS.payment,
    deadLetterStream: STREAMS.paymentDeadLetter,
    decode: Events.orderPlaced.fromFields,
    logContext: (event) => ({ order_id: event.payload.orderId, request_id: event.requestId }),
    setup({ db, redis, log, metrics }) {
      // The operations page shows each worker's breaker through a short-lived Redis key.
      const report = () => reportBreakerState(redis, config.streamPrefix, config.consumerName, breaker.state(Date.now()));
      const breaker = new CircuitBreaker(config.breaker, ({ from, to }) => {
        metrics.breakerState.set(BREAKER_STATE_VALUE[to]);
        log[to === 'open' ? 'warn' : 'info']({ from, to }, `circuit breaker ${to}`);
        void breakerReporting.runNow();
      });
      metrics.breakerState.set(BREAKER_STATE_VALUE.closed);
      const breakerReporting = startPeriodic('breaker state report', 10_000, report, log);
      if (redis.status === 'ready') void breakerReporting.runNow();
      else redis.once('ready', () => void breakerReporting.runNow());
      const relay = createOutboxRelay({ db, redis, log, ...relaySettings(config) });
      let crashed = false;
      const handle = createPaymentHandler({
        db,
        log,
        outbox: relay,
        gateway: createMockGateway({ db, settings: gatewaySettings }),
        breaker,
        retry: config.retry,
        now: Date.now,
        sleep: Bun.sleep,
        random: Math.random,
        onGatewayCall: (result, seconds) => {
          metrics.gatewayCalls.observe({ result }, seconds);
          if (result === 'error') metrics.gatewayErrors.inc();
        },
        onOutcome: (outcome) => metrics.payments.inc({ outcome }),
        crash(point: CrashPoint) {
          if (crashed || config.crashAt !== point) return;
          crashed = true;
          log.warn({ crash_at: point }, 'CRASH_AT reached: killing this process');
          process.kill(process.pid, 'SIGKILL');
        },
      });
      relay.kick();
      return {
        handle,
        // Gateway trouble is not the order's fault: the entry waits instead of failing or being dead-lettered.
        isTransient: (error) => error instanceof CircuitOpen || error instanceof GatewayUnavailable || error instanceof GatewayTransientError,
        // While the breaker is open, leave new orders in the stream.
        gate: () => breaker.waitMs(Date.now()),
        healthDetails: () => ({ breaker: breaker.state(Date.now()) }),
        stop: () => Promise.all([relay.stop(), breakerReporting.stop()]),
      };
    },
  };
}
