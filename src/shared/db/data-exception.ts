import { errorCode } from './connection-error.ts';

/**
 * SQLSTATE class 22, data exception: PostgreSQL could not take a value as given (22P02 invalid text
 * representation, 22003 numeric value out of range, 22007 invalid datetime format, ...). Our queries
 * only pass values along, so one of these means the value came from a client and was bad.
 */
export function isDataException(error: unknown): boolean {
  return /^22[0-9A-Z]{3}$/.test(errorCode(error) ?? '');
}

/** PostgreSQL's own words for it (`invalid input syntax for type uuid: "x"`), from the error or one of its causes. */
export function dataExceptionMessage(error: unknown): string {
  for (let current = error, depth = 0; depth < 5 && current instanceof Error; depth++, current = current.cause) {
    if ('code' in current && current.code !== undefined) return current.message;
  }
  return 'invalid value';
}
