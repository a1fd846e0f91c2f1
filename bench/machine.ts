import { cpus, totalmem } from 'node:os';

/** What a figure was measured on, written next to every result. */
export function machine() {
  const lock = Bun.file(new URL('../package.json', import.meta.url));
  return lock.json().then((pkg: { dependencies: Record<string, string>; devDependencies: Record<string, string> }) => ({
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    bun: Bun.version,
    ioredis: pkg.dependencies.ioredis,
    bullmq: pkg.devDependencies.bullmq,
    elysia: pkg.dependencies.elysia,
    postgres: pkg.dependencies.postgres,
  }));
}
