import { loadConfigOrExit } from '../shared/runtime/startup.ts';
import { runWorker } from '../shared/worker/run-worker.ts';
import { paymentWorker } from './worker.ts';

runWorker(paymentWorker(loadConfigOrExit(Bun.env)));
