import { loadConfigOrExit } from '../shared/startup.ts';
import { runWorker } from '../shared/worker-runtime.ts';
import { notifyWorker } from './spec.ts';

runWorker(notifyWorker(loadConfigOrExit(Bun.env)));
