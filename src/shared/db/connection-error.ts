/** Network-level failures: nothing answered, so the fix is to start or point at a PostgreSQL. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  // A query written into a session the server has just ended (an admin's pg_terminate_backend, a
  // restart): the socket is gone before the driver has seen it close.
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  // PostgreSQL is starting up, shutting down, or an admin ended our session.
  '57P01',
  '57P02',
  '57P03',
  // Out of connection slots: a capacity problem that passes, never a reason to fail an order.
  '53300',
]);

/**
 * Failures that pass: the same statement may well succeed when tried again. Everything unreachable
 * above, any 08xxx connection exception, a transaction that lost a race (40001 serialization, 40P01
 * deadlock), and a statement cancelled for running too long or by an admin (57014). Everything else
 * (a constraint, a bad value) would fail the same way again. This is the project's one list.
 */
const RETRY_AGAIN_CODES = new Set(['40001', '40P01', '57014']);

/** unique_violation: with ids chosen before the first try, "my own id is taken" means "my earlier try committed". */
export const UNIQUE_VIOLATION = '23505';

/** True when the error is transient: an outage of PostgreSQL or a statement worth trying again. */
export function isTransientDbError(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && (UNREACHABLE_CODES.has(code) || RETRY_AGAIN_CODES.has(code) || code.startsWith('08'));
}

/**
 * The driver's error code (`ECONNREFUSED`, SQLSTATE `55P03`, ...). drizzle wraps driver
 * errors in a DrizzleQueryError, so the code may sit a few `cause`s deep.
 */
export function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; depth < 5; depth++) {
    if (typeof current !== 'object' || current === null) return undefined;
    if ('code' in current && current.code !== undefined) return String(current.code);
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True when the error means "PostgreSQL is not there right now", as opposed to a bad query. */
export function isDatabaseUnreachable(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && UNREACHABLE_CODES.has(code);
}

/** The URL without its password, safe to print. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return '(unparseable URL)';
  }
}

/** What to do when nothing answers at DATABASE_URL, in one line a newcomer can act on. */
export function unreachableDatabaseHint(error: unknown, url: string): string {
  const reason = errorCode(error) ?? (error instanceof Error ? error.message : String(error));
  return (
    `Cannot reach PostgreSQL at ${redactUrl(url)} (${reason}). ` +
    'Start one with `sudo pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` ' +
    'or `docker compose up -d postgres redis`, or point DATABASE_URL at a running server.'
  );
}
