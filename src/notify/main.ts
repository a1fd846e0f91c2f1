import { loadConfigOrExit } from '../shared/runtime/startup.ts';
import { runWorker } from '../shared/worker/run-worker.ts';
import { notifyWorkers } from './worker.ts';

runWorker(...notifyWorkers(loadConfigOrExit(Bun.env)));
