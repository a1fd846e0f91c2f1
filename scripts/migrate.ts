/** `bun run db:migrate`: creates the database if needed and applies the committed migrations. */
import { redactUrl } from '../src/shared/db/connection-error.ts';
import { ensureDatabase, migrateDatabase } from '../src/shared/db/migrate.ts';
import { loadConfigOrExit, startOrExit } from '../src/shared/runtime/startup.ts';

const config = loadConfigOrExit(Bun.env);
await startOrExit(config, async () => {
  if (await ensureDatabase(config.database.url)) console.log(`created database ${redactUrl(config.database.url)}`);
  await migrateDatabase(config.database.url);
});
console.log(`migrations applied to ${redactUrl(config.database.url)}`);
