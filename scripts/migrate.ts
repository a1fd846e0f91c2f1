/** `bun run db:migrate`: creates the database if needed and applies the committed migrations. */
import { redactUrl } from '../src/shared/db/connection-error.ts';
import { ensureDatabase, migrateDatabase } from '../src/shared/db/migrate.ts';
import { loadConfigOrExit, startOrExit } from '../src/shared/startup.ts';

const config = loadConfigOrExit(Bun.env);
await startOrExit(config, async () => {
  if (await ensureDatabase(config.databaseUrl)) console.log(`created database ${redactUrl(config.databaseUrl)}`);
  await migrateDatabase(config.databaseUrl);
});
console.log(`migrations applied to ${redactUrl(config.databaseUrl)}`);
