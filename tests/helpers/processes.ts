import type { Subprocess } from 'bun';
import { forEachLine } from '../../src/shared/read-lines.ts';
import { waitFor } from './wait-for.ts';

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
  /** Everything it wrote to stderr (should stay empty). */
  stderr: string[];
  waitForLine(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<RunningService>();

/** Starts a real service process (`bun src/<name>/main.ts`) with the given environment. */
export function spawnService(name: ServiceName, env: Record<string, string>, command?: string[]): RunningService {
  const proc = Bun.spawn(command ?? [process.execPath, ENTRY[name]], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { PATH: Bun.env.PATH ?? '', HOME: Bun.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const lines: LogLine[] = [];
  const stderr: string[] = [];
  void forEachLine(proc.stdout, (line) => {
    if (!line.trim()) return;
    try {
      lines.push(JSON.parse(line));
    } catch {
      lines.push({ msg: line, unparsed: true });
    }
  });
  void forEachLine(proc.stderr, (line) => line.trim() && stderr.push(line));
  const service: RunningService = {
    name,
    proc,
    lines,
    stderr,
    waitForLine: (match, what, timeoutMs = 20_000) =>
      waitFor(() => lines.find(match), { what: `${name}: ${what}`, timeoutMs }),
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const code = await proc.exited;
      running.delete(service);
      return code;
    },
  };
  running.add(service);
  return service;
}

/** Kills whatever a test left running; call from afterEach/afterAll. */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((service) => service.stop('SIGKILL')));
}

/** The worker's health port, from its start-up line (tests run with HEALTH_PORT=0). */
export async function healthPort(service: RunningService): Promise<number> {
  const line = await service.waitForLine((l) => typeof l.health_port === 'number', 'its health port');
  return line.health_port as number;
}
