import type { RunningService } from './spawn-service.ts';

export interface HealthWaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/** Thrown when a service exited before it answered `GET /health`; `portTaken` when its port was taken meanwhile. */
export class ServiceExitedEarly extends Error {
  constructor(
    readonly service: RunningService,
    readonly portTaken: boolean,
  ) {
    super(`${service.name} exited with code ${service.proc.exitCode ?? service.proc.signalCode} before it was healthy${lastWords(service)}`);
    this.name = 'ServiceExitedEarly';
  }
}

/**
 * Polls the service's `GET /health` until it answers 200. A 503 (a dependency not answering yet,
 * the consumer group not created yet) means wait; the process exiting means give up at once.
 */
export async function waitUntilHealthy(service: RunningService, { timeoutMs = 20_000, intervalMs = 50 }: HealthWaitOptions = {}): Promise<void> {
  const { port } = service;
  if (port === undefined) throw new Error(`${service.name} has no health port set before it started (PORT or HEALTH_PORT), so there is nothing to poll`);
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (exited(service)) {
      // Its last words are still in the pipes; a grandchild holding them open must not hold us up.
      await Promise.race([service.drained, Bun.sleep(1000)]);
      throw new ServiceExitedEarly(service, mentionsPortInUse(service));
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) {
        await res.arrayBuffer();
        return;
      }
      last = `${res.status} ${(await res.text()).slice(0, 300)}`;
    } catch (error) {
      // Refused until the server listens; the deadline below bounds it.
      last = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`${service.name} did not answer 200 on GET http://127.0.0.1:${port}/health within ${timeoutMs} ms (last: ${last})${lastWords(service)}`);
    }
    await Bun.sleep(intervalMs);
  }
}

function exited(service: RunningService): boolean {
  return service.proc.exitCode !== null || service.proc.signalCode !== null;
}

function mentionsPortInUse(service: RunningService): boolean {
  return [...service.stderr, ...service.lines.map((line) => JSON.stringify(line))].some((line) => line.includes('EADDRINUSE'));
}

function lastWords(service: RunningService): string {
  const clip = (line: string) => (line.length > 300 ? `${line.slice(0, 300)}...` : line);
  const tail = [...service.lines.slice(-3).map((line) => JSON.stringify(line)), ...service.stderr.slice(-5)].map(clip);
  return tail.length > 0 ? `; its last output:\n  ${tail.join('\n  ')}` : '';
}
