import type { Subprocess } from 'bun';
import { forEachLine } from './read-lines.ts';
import { withHeapBudget } from '../../src/shared/runtime/heap-budget.ts';

export interface ServiceSpec {
  /** Prefix for its output lines. */
  name: string;
  /** The TypeScript (or JavaScript) entry point, run with this same bun binary. */
  entry: string;
  /** Its command-line arguments. */
  args?: string[];
  env?: Record<string, string>;
  /** Resolves once it serves (rejects when it will not): the services without one start after it. */
  ready?: () => Promise<unknown>;
}

const STOP_TIMEOUT_MS = 15_000;

/**
 * Runs the services side by side until one exits or we get SIGINT/SIGTERM, then passes the
 * signal on to the rest and waits for them (SIGKILL after a timeout). Resolves to the exit code.
 * The services with a `ready` check start first, and the others only once every check passed.
 */
export async function superviseAll(services: ServiceSpec[]): Promise<number> {
  const width = Math.max(...services.map((s) => s.name.length));
  const children: { spec: ServiceSpec; proc: Subprocess<'ignore', 'pipe', 'pipe'> }[] = [];
  const outputs: Promise<void>[] = [];
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
  let exitedEarly: (code: number) => void = () => {};
  const firstExit = new Promise<number>((resolve) => (exitedEarly = resolve));

  function launch(spec: ServiceSpec) {
    const proc = Bun.spawn([process.execPath, spec.entry, ...(spec.args ?? [])], {
      env: withHeapBudget({ ...Bun.env, ...spec.env }),
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    children.push({ spec, proc });
    const prefix = `[${spec.name.padEnd(width)}] `;
    outputs.push(
      forEachLine(proc.stdout, (line) => process.stdout.write(`${prefix}${line}\n`)),
      forEachLine(proc.stderr, (line) => process.stderr.write(`${prefix}${line}\n`)),
    );
    void proc.exited.then(async (code) => {
      if (stopping) return;
      process.stderr.write(`[${spec.name}] exited with code ${code}; stopping the others\n`);
      await stopAll('SIGTERM');
      exitedEarly(code === 0 ? 1 : code);
    });
  }

  // What the others need (a mail server they send to) first; the others once it answers.
  const needed = services.filter((spec) => spec.ready);
  for (const spec of needed) launch(spec);
  try {
    await Promise.race([Promise.all(needed.map((spec) => spec.ready!())), signalled, firstExit]);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}; stopping\n`);
    await stopAll('SIGTERM');
    await Promise.all(outputs);
    return 1;
  }
  if (!stopping) for (const spec of services.filter((s) => !s.ready)) launch(spec);
  const code = await Promise.race([signalled, firstExit]);
  await Promise.all(outputs);
  return code;
}
