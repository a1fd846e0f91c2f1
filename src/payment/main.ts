import { loadConfigOrExit } from '../shared/runtime/startup.ts';
import { runWorker } from '../shared/worker/run-worker.ts';
import { paymentWorker } from './spec.ts';

runWorker(paymentWorker(loadConfigOrExit(Bun.env)), { env: Bun.env });
