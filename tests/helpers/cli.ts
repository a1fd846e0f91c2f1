const ROOT = new URL('../..', import.meta.url).pathname;

/** Runs `bun run <args>` in the project, as a user would, with exactly `env` (plus PATH); returns its exit code and output. */
export async function runCli(args: string[], env: Record<string, string>) {
  const proc = Bun.spawn([process.execPath, 'run', ...args], {
    cwd: ROOT,
    env: { PATH: Bun.env.PATH ?? '', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, stdout, stderr };
}
