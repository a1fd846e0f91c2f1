/**
 * A throwaway copy of the whole system, for tests, `bun run chaos` and `bun run bench`: a migrated,
 * seeded database of its own, its own stream prefix, a mail server of its own (the customer e-mails
 * land there), and real api/payment/notify processes on free ports, all gone again after stop().
 */
import Redis from 'ioredis';
import type { Database } from '../../src/shared/db/client.ts';
import { deleteKeysWithPrefix } from '../../src/shared/runtime/redis.ts';
import { startMailSink, type MailSink } from './mail-sink.ts';
import { freePort, spawnService, type RunningService, type ServiceName } from './spawn-service.ts';
import { createThrowawayDatabase, type ThrowawayDatabase } from './throwaway-database.ts';
import { ServiceExitedEarly, waitUntilHealthy } from './wait-until-healthy.ts';

export type SpawnProcess<Service extends RunningService> = (name: ServiceName, env: Record<string, string>, command?: string[]) => Service;

export interface SystemOptions<Service extends RunningService = RunningService> {
  /** Names the database and the stream prefix (`chaos` -> `chaos_<pid>_<random>`, `chaos:<pid>:<random>:`). */
  label: string;
  /** The PostgreSQL server; its database part is replaced by the throwaway database. */
  databaseServerUrl: string;
  redisUrl: string;
  /** Environment of every spawned service, under what env() and spawn() are given. */
  env?: Record<string, string>;
  /** Pool size of the system's own database handle (`system.db`). */
  poolSize?: number;
  /** application_name of that handle's sessions. */
  applicationName?: string;
  /** Leave the database and the Redis keys behind on stop(), to look at them. */
  keep?: boolean;
  /** How long spawn() waits for `GET /health` to answer 200; default 20 s. */
  readyTimeoutMs?: number;
  /** How long stop() gives a process after SIGTERM before SIGKILL; default 15 s. */
  stopTimeoutMs?: number;
  /** Starts the process; tests pass theirs, which adds waitForLine and tracks it for killAll(). */
  spawnService?: SpawnProcess<Service>;
}

export interface SpawnOptions {
  /** Wait until `GET /health` answers 200 (default). False: return at once, e.g. for a worker started while Redis is down on purpose. */
  ready?: boolean;
  /** Instead of `bun src/<name>/main.ts`, e.g. `bun run payment`. */
  command?: string[];
  timeoutMs?: number;
}

export interface System<Service extends RunningService = RunningService> extends AsyncDisposable {
  database: ThrowawayDatabase;
  db: Database;
  prefix: string;
  /** The system's SMTP server (SMTP_URL of every service): what the customers were sent, and how it answers. */
  mail: MailSink;
  redisUrl: string;
  /** The environment for a service of this system: database, Redis, prefix, the caller's defaults, then `extra`. */
  env(extra?: Record<string, string>): Record<string, string>;
  /**
   * Starts a service on a free port chosen here (PORT for the api, HEALTH_PORT for a worker; a port in
   * `extra` wins) and, unless `ready: false`, resolves once its `GET /health` answers 200.
   */
  spawn(name: ServiceName, extra?: Record<string, string>, options?: SpawnOptions): Promise<Service>;
  /** Every process spawn() started, stopped or not, in order (their `lines` outlive them). */
  services: readonly Service[];
  /** SIGTERM (then SIGKILL) to every process spawned, then the Redis keys under the prefix and the database go, unless `keep`. */
  stop(): Promise<void>;
}

const PORT_ATTEMPTS = 3;

export async function startSystem<Service extends RunningService = RunningService>(options: SystemOptions<Service>): Promise<System<Service>> {
  const { redisUrl, keep = false, readyTimeoutMs = 20_000, stopTimeoutMs = 15_000 } = options;
  const spawnProcess = options.spawnService ?? (spawnService as unknown as SpawnProcess<Service>);
  const database = await createThrowawayDatabase(options.databaseServerUrl, options.label, {
    seed: true,
    poolSize: options.poolSize,
    applicationName: options.applicationName,
  });
  const prefix = `${database.name.replaceAll('_', ':')}:`;
  const mail = await startMailSink();
  const services: Service[] = [];
  let stopping: Promise<void> | undefined;

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    STREAM_PREFIX: prefix,
    // A worker started with env() alone picks a free health port instead of the fixed default.
    HEALTH_PORT: '0',
    SMTP_URL: mail.url,
    ...options.env,
    ...extra,
  });

  async function spawnOnce(name: ServiceName, extra: Record<string, string>, command: string[] | undefined) {
    const portVariable = portVariableOf(name);
    const port = extra[portVariable] ?? String(await freePort());
    // stop() has taken its list of processes already; one started now would outlive the system.
    if (stopping) throw new Error(`cannot start ${name}: the system ${database.name} is stopping`);
    const service = spawnProcess(name, env({ ...extra, [portVariable]: port }), command);
    services.push(service);
    return service;
  }

  async function spawn(name: ServiceName, extra: Record<string, string> = {}, { ready = true, command, timeoutMs = readyTimeoutMs }: SpawnOptions = {}) {
    for (let attempt = 1; ; attempt++) {
      const service = await spawnOnce(name, extra, command);
      if (!ready) return service;
      try {
        await waitUntilHealthy(service, { timeoutMs });
        return service;
      } catch (error) {
        // A port free when chosen can be taken before the process binds it (other runs share the host): choose again.
        const portWasOurs = !(portVariableOf(name) in extra);
        if (error instanceof ServiceExitedEarly && error.portTaken && portWasOurs && attempt < PORT_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  async function teardown() {
    const failures: unknown[] = [];
    const attempt = (step: Promise<unknown>) => step.catch((error: unknown) => failures.push(error));
    await Promise.all(services.map((service) => attempt(stopGracefully(service, stopTimeoutMs))));
    await attempt(mail.stop());
    if (keep) {
      await attempt(database.close());
    } else {
      await attempt(explained(deleteKeys(redisUrl, prefix), `deleting the Redis keys under ${prefix}`));
      await attempt(explained(database.drop(), `dropping the database ${database.name}`));
    }
    if (failures.length > 0) throw new AggregateError(failures, `stopping the system ${database.name}: ${failures.length} step(s) failed`);
  }
  const stop = () => (stopping ??= teardown());

  return {
    database,
    db: database.db,
    prefix,
    mail,
    redisUrl,
    env,
    spawn,
    services,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Runs `body`, then stops the system whatever happened. Unlike a bare `finally { await system.stop() }`
 * (or `await using`, whose SuppressedError Bun prints without either message), a failure to stop never
 * hides the body's own error, though both are likely together (Redis or PostgreSQL gone): both are thrown.
 */
export async function stopAfter<T>(system: Pick<System, 'stop'>, body: () => Promise<T>): Promise<T> {
  let failure: { error: unknown } | undefined;
  try {
    return await body();
  } catch (error) {
    failure = { error };
    throw error;
  } finally {
    try {
      await system.stop();
    } catch (stopError) {
      // Thrown from finally, this replaces the body's error, so it carries it.
      if (!failure) throw stopError;
      throw new AggregateError([failure.error, stopError], `${(failure.error as Error)?.message ?? String(failure.error)} (and stopping the system failed too)`);
    }
  }
}

/** Rethrows a failure with what we were doing, so a bare "Connection is closed." says which step it was. */
async function explained(step: Promise<unknown>, what: string): Promise<void> {
  try {
    await step;
  } catch (error) {
    throw new Error(`${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}

/** The variable that sets the port a service answers `GET /health` on. */
function portVariableOf(name: ServiceName): 'PORT' | 'HEALTH_PORT' {
  return name === 'api' ? 'PORT' : 'HEALTH_PORT';
}

async function stopGracefully(service: RunningService, timeoutMs: number): Promise<void> {
  const killer = setTimeout(() => service.proc.kill('SIGKILL'), timeoutMs);
  try {
    await service.stop('SIGTERM');
  } finally {
    clearTimeout(killer);
  }
  // The last lines (shutdown, unfinished entries) are still in the pipe; callers write logs after stop().
  await Promise.race([service.drained, Bun.sleep(1000)]);
}

async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  // Fail fast rather than reconnect forever: stop() must end, and it reports the failure.
  const redis = new Redis(redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: () => null });
  // Errors reach us through connect() and the commands; without a listener ioredis would also print them.
  redis.on('error', () => {});
  try {
    await redis.connect();
    await deleteKeysWithPrefix(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
