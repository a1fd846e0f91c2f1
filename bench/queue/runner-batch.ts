/** The consumer runner in batch mode: a no-op `handleBatch`, every other setting as in runner.ts. */
import { runRunnerContender } from './runner-contender.ts';

await runRunnerContender({ name: 'runner (batch)', key: 'runner-batch', batch: true });
