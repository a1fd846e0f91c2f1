import type { Subprocess } from 'bun';
import { forEachLine } from './read-lines.ts';
import { freePort } from './spawn-service.ts';

export interface SandboxProcessHandle {
  url: string;
  port: number;
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Everything it wrote, stdout and stderr. */
  output: string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * Starts the Stripe sandbox (`bun src/sandbox/stripe/main.ts`) as a process of its own on a free port,
 * with `env` (STRIPE_SANDBOX_*), and resolves once it answers: the provider on the other side of the
 * network, for tests, `bun run bench --provider stripe` and chaos.
 */
export async function spawnStripeSandbox(env: Record<string, string> = {}, { timeoutMs = 15_000 } = {}): Promise<SandboxProcessHandle> {
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, 'src/sandbox/stripe/main.ts'], {
    cwd: ROOT,
    env: { PATH: Bun.env.PATH ?? '', HOME: Bun.env.HOME ?? '', STRIPE_SANDBOX_PORT: String(port), ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const output: string[] = [];
  void forEachLine(proc.stdout, (line) => output.push(line));
  void forEachLine(proc.stderr, (line) => output.push(line));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the Stripe sandbox exited with ${proc.exitCode}:\n${output.join('\n')}`);
    if (await fetch(`${url}/_sandbox/faults`).then((res) => res.ok, () => false)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`the Stripe sandbox did not answer within ${timeoutMs} ms:\n${output.join('\n')}`);
    }
    await Bun.sleep(50);
  }
  return {
    url,
    port,
    proc,
    output,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null) proc.kill(signal);
      await proc.exited;
    },
  };
}
