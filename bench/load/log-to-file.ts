import type { SpawnProcess } from '../../scripts/lib/start-system.ts';
import { spawnService, type RunningService } from '../../scripts/lib/spawn-service.ts';

/**
 * Starts services as startSystem() would, but with stdout (their JSON logs) going straight to a file
 * in `dir` instead of a pipe into this process: at thousands of log lines a second, reading and
 * parsing them here would take CPU from the very system being measured. `exec` keeps the pid, so
 * /proc/<pid> is the service itself. stderr stays a pipe, for start-up failures. With `profileDir`,
 * each service runs under `bun --cpu-prof` and writes its profile there when it stops; with `smol`,
 * under `bun --smol` (a smaller heap, collected more often).
 */
export function logToFile(dir: string, { profileDir, smol = false }: { profileDir?: string; smol?: boolean } = {}): SpawnProcess<RunningService> {
  let started = 0;
  return (name, env) => {
    const n = String(++started).padStart(2, '0');
    const path = `${dir}/${n}-${name}.log`;
    const flags = [...(smol ? ['--smol'] : []), ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${n}-${name}.cpuprofile`] : [])];
    return spawnService(name, env, ['/bin/sh', '-c', 'log="$1"; shift; exec "$@" >"$log"', 'sh', path, process.execPath, ...flags, `src/${name}/main.ts`]);
  };
}
