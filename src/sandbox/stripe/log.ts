/** What the sandbox logs through: pino's shape (`log.info({ port }, 'listening')`), so main.ts can pass a pino logger. */
export interface SandboxLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** For in-process use where nothing should be printed. */
export const silentLog: SandboxLog = { info() {}, warn() {}, error() {} };
