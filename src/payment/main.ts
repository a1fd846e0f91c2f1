import { loadConfigOrExit } from '../shared/startup.ts';
import { runWorker } from '../shared/worker-runtime.ts';
import { paymentWorker } from './spec.ts';

runWorker(paymentWorker(loadConfigOrExit(Bun.env)));
