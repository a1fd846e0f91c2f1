/**
 * `bun run dlq`: look at and repair the dead-letter streams.
 *   dlq list [stream] [--json]          newest first; an entry retried on a schedule: one line per failed attempt
 *   dlq show <id>                       as JSON, its attempts included
 *   dlq replay <id> | --all [--stream S] [--dry-run]
 *   dlq purge <id> | --all [--stream S] --yes
 */
import { parseArgs } from 'node:util';
import { AppError } from '../src/shared/runtime/app-error.ts';
import { createDeadLetters } from '../src/shared/ops/dead-letters.ts';
import { exitWith, loadConfigOrExit } from '../src/shared/runtime/startup.ts';
import { connectOrExit } from './lib/cli-redis.ts';

const USAGE = `usage:
  bun run dlq list [payment.dlq|notify.dlq] [--json]
  bun run dlq show <id>
  bun run dlq replay <id> | --all [--stream S] [--dry-run]
  bun run dlq purge <id> | --all [--stream S] --yes`;

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  allowPositionals: true,
  options: {
    json: { type: 'boolean', default: false },
    all: { type: 'boolean', default: false },
    stream: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    yes: { type: 'boolean', default: false },
  },
  strict: false,
});
const [command, argument] = positionals;
if (!command || !['list', 'show', 'replay', 'purge'].includes(command)) {
  console.error(USAGE);
  process.exit(2);
}

const config = loadConfigOrExit(Bun.env);
const redis = await connectOrExit(config);
const deadLetters = createDeadLetters(redis, config.streamPrefix, config.partitions.count);
const stream = typeof values.stream === 'string' ? values.stream : undefined;
const target = (): { id: string } | { all: true; stream?: string } => {
  if (values.all) return { all: true, stream };
  if (!argument) exitWith(`${command} needs an entry id or --all\n${USAGE}`);
  return { id: argument };
};

try {
  switch (command) {
    case 'list': {
      const entries = await deadLetters.list(argument ?? stream);
      if (values.json) {
        console.log(JSON.stringify(entries, null, 2));
        break;
      }
      if (entries.length === 0) console.log('no dead-lettered entries');
      for (const e of entries) {
        console.log(`${e.id}  ${e.deadLetterStream}  from ${e.originalStream} ${e.originalId}  deliveries ${e.deliveries}  ${e.deadLetteredAt}\n    ${e.error}`);
        // The retry schedule's history, one attempt a line, so a person reads when and why each failed.
        for (const a of e.attempts ?? []) console.log(`    attempt ${a.attempt}  ${a.at}  ${a.reason}`);
      }
      break;
    }
    case 'show':
      if (!argument) exitWith(`show needs an entry id\n${USAGE}`);
      console.log(JSON.stringify(await deadLetters.show(argument), null, 2));
      break;
    case 'replay': {
      const replayed = await deadLetters.replay(target(), { dryRun: values['dry-run'] === true });
      for (const r of replayed) {
        console.log(values['dry-run'] ? `would replay ${r.id} to ${r.originalStream}` : `replayed ${r.id} to ${r.originalStream} as ${r.newId}`);
      }
      console.log(`${replayed.length} ${values['dry-run'] ? 'would be replayed (dry run, nothing changed)' : 'replayed'}`);
      break;
    }
    case 'purge': {
      if (values.yes !== true) exitWith('purge deletes dead letters for good; add --yes to do it');
      console.log(`${await deadLetters.purge(target())} purged`);
      break;
    }
  }
} catch (error) {
  if (error instanceof AppError) exitWith(error.message);
  throw error;
} finally {
  redis.disconnect();
}
