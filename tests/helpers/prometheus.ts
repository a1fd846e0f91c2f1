import type { Subprocess } from 'bun';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis.ts';
import { GiveUp, waitFor } from './wait-for.ts';

/** Debian's prometheus (`apt-get install prometheus`), installed by .ci/run; nothing is downloaded. */
export const PROMETHEUS = Bun.env.PROMETHEUS_PATH ?? Bun.which('prometheus') ?? '/usr/bin/prometheus';
export const PROMTOOL = Bun.env.PROMTOOL_PATH ?? Bun.which('promtool') ?? '/usr/bin/promtool';
export const havePrometheus = existsSync(PROMETHEUS);
export const havePromtool = existsSync(PROMTOOL);

export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

export interface RunningPrometheus {
  url: string;
  /** GET /api/v1/alerts: the alerts pending or firing now (resolved ones leave the list). */
  alerts(): Promise<ActiveAlert[]>;
  /** An instant query; throws with Prometheus's own error when the query is refused. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Its output, for the failure message of a test. */
  output: string[];
  stop(): Promise<void>;
}

/**
 * A real Prometheus on a free loopback port with its own scratch storage, given its configuration (any
 * object; YAML is a superset of JSON) and rule files by name. stop() kills it and removes the folder;
 * call it in a finally.
 */
export async function startPrometheus(config: object, ruleFiles: Record<string, string>): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-test-'));
  for (const [name, text] of Object.entries(ruleFiles)) await Bun.write(join(dir, name), text);
  const configPath = join(dir, 'prometheus.yml');
  await Bun.write(configPath, JSON.stringify(config, null, 2));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc: Subprocess<'ignore', 'ignore', 'pipe'> = Bun.spawn(
    [PROMETHEUS, `--config.file=${configPath}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { cwd: dir, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' },
  );
  const output: string[] = [];
  // Prometheus logs to stderr; kept so a failed wait can say what it said.
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) output.push(...decoder.decode(chunk).split('\n').filter(Boolean));
  })();

  async function stop() {
    proc.kill('SIGKILL');
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  }

  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new GiveUp(`prometheus exited with ${proc.exitCode}:\n${output.slice(-10).join('\n')}`);
        return (await fetch(`${url}/-/ready`)).status === 200;
      },
      { what: `prometheus ready on ${url}`, timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output.slice(-10).join('\n')}`, { cause: error });
  }

  return {
    url,
    output,
    alerts: async () => (await api<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts,
    query: async (expr) => (await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    stop,
  };
}
