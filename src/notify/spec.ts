import type { Config } from '../shared/config.ts';
import { Events, GROUPS, STREAMS, type PaymentCompleted } from '../shared/events.ts';
import type { WorkerSpec } from '../shared/worker-runtime.ts';
import { createNotifyHandler } from './worker.ts';

/** The notification worker: `payment.completed` in, one notice per order out. */
export function notifyWorker(config: Config): WorkerSpec<PaymentCompleted> {
  return {
    service: 'notify',
    config,
    defaultHealthPort: 3002,
    stream: STREAMS.paymentCompleted,
    group: GROUPS.notification,
    deadLetterStream: STREAMS.notifyDeadLetter,
    decode: Events.paymentCompleted.fromFields,
    logContext: (event) => ({ order_id: event.payload.orderId, request_id: event.requestId }),
    setup: ({ db, log }) => ({ handle: createNotifyHandler({ db, log }) }),
  };
}
