import type { Subprocess } from 'bun';
import { forEachLine } from './read-lines.ts';

export interface ServiceSpec {
  /** Prefix for its output lines. */
  name: string;
  /** The TypeScript entry point, run with this same bun binary. */
  entry: string;
  env?: Record<string, string>;
}

const STOP_TIMEOUT_MS = 15_000;

/**
 * Runs the services side by side until one exits or we get SIGINT/SIGTERM, then passes the
 * signal on to the rest and waits for them (SIGKILL after a timeout). Resolves to the exit code.
 */
export async function superviseAll(services: ServiceSpec[]): Promise<number> {
  const width = Math.max(...services.map((s) => s.name.length));
  const children: { spec: ServiceSpec; proc: Subprocess<'ignore', 'pipe', 'pipe'> }[] = services.map((spec) => ({
    spec,
    proc: Bun.spawn([process.execPath, spec.entry], {
      env: { ...Bun.env, ...spec.env },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    }),
  }));
  const outputs = children.flatMap(({ spec, proc }) => {
    const prefix = `[${spec.name.padEnd(width)}] `;
    return [
      forEachLine(proc.stdout, (line) => process.stdout.write(`${prefix}${line}\n`)),
      forEachLine(proc.stderr, (line) => process.stderr.write(`${prefix}${line}\n`)),
    ];
  });

  let stopping = false;
  const stopAll = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const { proc } of children) if (proc.exitCode === null) proc.kill(signal);
    const killer = setTimeout(() => {
      for (const { proc } of children) if (proc.exitCode === null) proc.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await Promise.all(children.map(({ proc }) => proc.exited));
    clearTimeout(killer);
  };

  const signalled = new Promise<number>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => void stopAll(signal).then(() => resolve(0)));
    }
  });
  const firstExit = Promise.race(
    children.map(({ spec, proc }) =>
      proc.exited.then(async (code) => {
        if (stopping) return 0;
        process.stderr.write(`[${spec.name}] exited with code ${code}; stopping the others\n`);
        await stopAll('SIGTERM');
        return code === 0 ? 1 : code;
      }),
    ),
  );
  const code = await Promise.race([signalled, firstExit]);
  await Promise.all(outputs);
  return code;
}
