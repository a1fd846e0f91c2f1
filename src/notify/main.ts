import { loadConfigOrExit } from '../shared/runtime/startup.ts';
import { runWorker } from '../shared/worker/run-worker.ts';
import { notifyWorker } from './worker.ts';

runWorker(notifyWorker(loadConfigOrExit(Bun.env)));
