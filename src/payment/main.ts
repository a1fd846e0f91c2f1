import { CircuitOpen, GatewayTransientError, GatewayUnavailable } from '../shared/errors.ts';
import { Events, GROUPS, STREAMS } from '../shared/events.ts';
import { createOutboxRelay } from '../shared/outbox.ts';
import { loadConfigOrExit } from '../shared/startup.ts';
import { runWorker } from '../shared/worker-runtime.ts';
import { CircuitBreaker } from './breaker.ts';
import { createMockGateway } from './gateway.ts';
import { createPaymentHandler, type CrashPoint } from './worker.ts';

const config = loadConfigOrExit(Bun.env);

runWorker({
  service: 'payment',
  config,
  defaultHealthPort: 3001,
  stream: STREAMS.ordersPlaced,
  group: GROUPS.payment,
  deadLetterStream: STREAMS.paymentDeadLetter,
  decode: Events.orderPlaced.fromFields,
  logContext: (event) => ({ order_id: event.payload.orderId, request_id: event.requestId }),
  setup({ db, redis, log }) {
    const breaker = new CircuitBreaker(config.breaker, ({ from, to }) =>
      log[to === 'open' ? 'warn' : 'info']({ from, to }, `circuit breaker ${to}`),
    );
    const relay = createOutboxRelay({
      db,
      redis,
      log,
      streamPrefix: config.streamPrefix,
      intervalMs: config.relayIntervalMs,
      retentionMs: config.outboxRetentionMs,
    });
    let crashed = false;
    const handle = createPaymentHandler({
      db,
      log,
      outbox: relay,
      gateway: createMockGateway({ db, settings: config.gateway }),
      breaker,
      retry: config.retry,
      now: Date.now,
      sleep: Bun.sleep,
      random: Math.random,
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
      stop: () => relay.stop(),
    };
  },
});
