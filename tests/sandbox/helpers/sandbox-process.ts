import { join } from 'node:path';
import { GiveUp, waitFor } from '../../helpers/wait-for.ts';

const MAIN = join(import.meta.dir, '..', '..', '..', 'src', 'sandbox', 'stripe', 'main.ts');

/** `bun src/sandbox/stripe/main.ts` as its own process, on a free port; its JSON log lines collected. */
export async function spawnSandbox(env: Record<string, string>) {
  const child = Bun.spawn([process.execPath, MAIN], {
    env: { ...process.env, STRIPE_SANDBOX_PORT: '0', STRIPE_SANDBOX_TICK_MS: '10', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const drained = (async () => {
    let buffer = '';
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    }
  })();
  const stderrRead = new Response(child.stderr).text().then((text) => stderr.push(text));
  const started = await waitFor(
    async () => {
      const line = lines.find((candidate) => typeof candidate.port === 'number');
      if (line || child.exitCode === null) return line;
      // Exited: everything it wrote is read before saying why.
      await Promise.all([drained, stderrRead]);
      throw new GiveUp(`the sandbox exited with ${child.exitCode}: ${JSON.stringify(lines)} ${stderr.join('')}`);
    },
    { what: 'the sandbox to log its port', timeoutMs: 10_000 },
  );
  return {
    port: started.port as number,
    lines,
    /** Sends `signal` and waits for the process to exit; its exit code. */
    async stop(signal: 'SIGTERM' | 'SIGINT' | 'SIGKILL' = 'SIGTERM'): Promise<number | null> {
      if (child.exitCode === null) child.kill(signal);
      await child.exited;
      return child.exitCode;
    },
  };
}
