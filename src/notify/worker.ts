import type { Config } from '../shared/runtime/config.ts';
import { Events, type PaymentCompleted } from '../shared/pipeline/events.ts';
import type { WorkerDefinition } from '../shared/worker/run-worker.ts';
import { createNotifyHandler } from './handler.ts';

/** The notification worker: `payment.completed` in, one notice per order out. */
export function notifyWorker(config: Config): WorkerDefinition<PaymentCompleted> {
  return {
    service: 'notify',
    config,
    defaultHealthPort: 3002,
    consumes: Events.paymentCompleted,
    logContext: (event) => ({ order_id: event.payload.orderId, request_id: event.requestId }),
    setup: ({ db, log }) => ({ handleBatch: createNotifyHandler({ db, log }) }),
  };
}
