import { ConfigError, loadConfig, type Config } from './config.ts';
import { errorCode, isDatabaseUnreachable, unreachableDatabaseHint } from '../db/connection-error.ts';

/**
 * For entry points only: reads the config, or prints what is wrong and exits 1.
 * A misconfigured process should say so in one place and stop, not limp on.
 */
export function loadConfigOrExit(env: Record<string, string | undefined>): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) exitWith(error.message);
    throw error;
  }
}

export function exitWith(message: string): never {
  console.error(message);
  process.exit(1);
}

/** Start-up failures that have a known fix get a one-line explanation instead of a stack trace. */
export function explainStartupError(error: unknown, config: Config): string | undefined {
  if (isDatabaseUnreachable(error)) return unreachableDatabaseHint(error, config.database.url);
  const code = errorCode(error);
  if (code === '42P01') return 'The database has no tables yet: run `bun run db:migrate` first (or `bun run dev`, which does it for you).';
  if (code === '3D000') return 'The database does not exist yet: run `bun run db:migrate`, which creates it.';
  return undefined;
}

/** Runs an entry point's start-up, turning known failures into a clear line and exit code 1. */
export async function startOrExit<T>(config: Config, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const explained = explainStartupError(error, config);
    if (explained) exitWith(explained);
    throw error;
  }
}
