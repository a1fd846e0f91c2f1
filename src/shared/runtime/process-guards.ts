import { isDatabaseUnreachable } from '../db/connection-error.ts';
import type { Logger } from './log.ts';

/**
 * For entry points. When PostgreSQL cuts a session, postgres.js can reject a promise that nothing
 * awaits any more (seen in `bun run chaos` with pg_terminate_backend); unhandled, that would kill a
 * healthy process over a connection the pool replaces anyway. Those are logged and survived; any
 * other unhandled rejection is a bug and still ends the process, so a supervisor restarts it clean.
 */
export function surviveStrayConnectionErrors(log: Logger): void {
  process.on('unhandledRejection', (reason) => {
    if (isDatabaseUnreachable(reason)) {
      log.warn({ err: reason }, 'stray PostgreSQL connection error after the connection closed; carrying on');
      return;
    }
    log.fatal({ err: reason }, 'unhandled promise rejection; exiting');
    process.exit(1);
  });
}
