import type { Subprocess } from 'bun';
import { forEachLine } from './read-lines.ts';
import { withHeapBudget } from '../../src/shared/runtime/heap-budget.ts';

const ENTRY = {
  api: 'src/api/main.ts',
  payment: 'src/payment/main.ts',
  notify: 'src/notify/main.ts',
} as const;

export type ServiceName = keyof typeof ENTRY;
export type LogLine = Record<string, unknown> & { msg?: string };

export interface RunningService {
  name: ServiceName;
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Every JSON line the process wrote to stdout. */
  lines: LogLine[];
  /** Everything it wrote to stderr. */
  stderr: string[];
  /** Resolves once stdout and stderr are read to their end, so `lines` and `stderr` are complete. */
  drained: Promise<void>;
  /** The port it serves `GET /health` on (PORT of the api, HEALTH_PORT of a worker), when set before it started. */
  port?: number;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const ROOT = new URL('../..', import.meta.url).pathname;

/** Starts a real service process (`bun src/<name>/main.ts`, or `command`), with the heap budget its package.json script gives it, and collects its JSON log lines. */
export function spawnService(name: ServiceName, env: Record<string, string>, command?: string[]): RunningService {
  const proc = Bun.spawn(command ?? [process.execPath, ENTRY[name]], {
    cwd: ROOT,
    env: withHeapBudget({ PATH: Bun.env.PATH ?? '', HOME: Bun.env.HOME ?? '', LOG_LEVEL: 'info', ...env }),
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const lines: LogLine[] = [];
  const stderr: string[] = [];
  const stdout = forEachLine(proc.stdout, (line) => {
    if (!line.trim()) return;
    try {
      lines.push(JSON.parse(line));
    } catch {
      lines.push({ msg: line, unparsed: true });
    }
  });
  const stderrRead = forEachLine(proc.stderr, (line) => line.trim() && stderr.push(line));
  return {
    name,
    proc,
    lines,
    stderr,
    drained: Promise.all([stdout, stderrRead]).then(() => {}),
    port: healthPortIn(name, env),
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return proc.exited;
    },
  };
}

/** The health port the environment fixes, if any (0 or unset: the process picks or defaults it). */
function healthPortIn(name: ServiceName, env: Record<string, string>): number | undefined {
  const port = Number(env[name === 'api' ? 'PORT' : 'HEALTH_PORT']);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const { port } = server;
  server.stop(true);
  return port;
}
