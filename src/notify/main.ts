import { Events, GROUPS, STREAMS } from '../shared/events.ts';
import { loadConfigOrExit } from '../shared/startup.ts';
import { runWorker } from '../shared/worker-runtime.ts';
import { createNotifyHandler } from './worker.ts';

const config = loadConfigOrExit(Bun.env);

runWorker({
  service: 'notify',
  config,
  defaultHealthPort: 3002,
  stream: STREAMS.paymentCompleted,
  group: GROUPS.notification,
  deadLetterStream: STREAMS.notifyDeadLetter,
  decode: Events.paymentCompleted.fromFields,
  logContext: (event) => ({ order_id: event.payload.orderId, request_id: event.requestId }),
  setup: ({ db, log }) => ({ handle: createNotifyHandler({ db, log }) }),
});
