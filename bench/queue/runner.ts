/** The project's consumer runner exactly as the workers use it: schema validation and delivery counting on. */
import { runRunnerContender } from './runner-contender.ts';

await runRunnerContender({ name: 'runner', key: 'runner', batch: false });
