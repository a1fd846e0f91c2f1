import { spawnService as spawn, type LogLine, type RunningService as Service, type ServiceName } from '../../scripts/lib/spawn-service.ts';
import { waitFor } from './wait-for.ts';

export type { LogLine, ServiceName };

export interface RunningService extends Service {
  waitForLine(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
}

const running = new Set<RunningService>();

/** Starts a real service process; killAll() in an after hook cleans up whatever a test left running. */
export function spawnService(name: ServiceName, env: Record<string, string>, command?: string[]): RunningService {
  const base = spawn(name, env, command);
  const service: RunningService = {
    ...base,
    waitForLine: (match, what, timeoutMs = 20_000) => waitFor(() => base.lines.find(match), { what: `${name}: ${what}`, timeoutMs }),
    async stop(signal) {
      const code = await base.stop(signal);
      running.delete(service);
      return code;
    },
  };
  running.add(service);
  return service;
}

export async function killAll(): Promise<void> {
  await Promise.all([...running].map((service) => service.stop('SIGKILL')));
}

/** The port the service answers GET /health on: the one chosen before it started, or else (HEALTH_PORT=0) the one its start-up line names. */
export async function healthPort(service: RunningService): Promise<number> {
  if (service.port !== undefined) return service.port;
  const line = await service.waitForLine((l) => typeof l.health_port === 'number', 'its health port');
  return line.health_port as number;
}
