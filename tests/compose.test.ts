import { describe, expect, it } from 'bun:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Redis from 'ioredis';
import { EnvSchema, loadConfig } from '../src/shared/runtime/config.ts';
import { loadPrometheusConfig } from './helpers/monitoring.ts';
import { freePort } from './helpers/redis.ts';
import { waitFor } from './helpers/wait-for.ts';

// Docker is not on the test machines, so the file is checked against the code instead of run.
const root = new URL('..', import.meta.url);
const composeText = await Bun.file(new URL('compose.yaml', root)).text();

/** Compose's own interpolation: `${VAR:-default}`, `${VAR-default}`, `${VAR}`, `$$` for a literal `$`. */
function interpolate<T>(value: T, env: Record<string, string>): T {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{(\w+)(?:(:?)-([^}]*))?\}/g, (match, name?: string, colon?: string, fallback?: string) => {
      if (match === '$$') return '$';
      const set = env[name!];
      if (fallback === undefined) return set ?? '';
      // `:-` falls back when the variable is unset or empty, `-` only when it is unset.
      return colon ? set || fallback : set ?? fallback;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item) => interpolate(item, env)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)])) as T;
  return value;
}

type Compose = { services: Record<string, Record<string, any>> };
/** compose.yaml as `docker compose up` sees it with nothing set in the environment, or with `env`. */
const composeWith = (env: Record<string, string>) => interpolate(Bun.YAML.parse(composeText) as Compose, env);
const compose = composeWith({});
const scripts: Record<string, string> = (await Bun.file(new URL('package.json', root)).json()).scripts;
const known = new Set(Object.keys(EnvSchema.properties));
const services = compose.services;
const ours = ['migrate', 'api', 'payment', 'notify'];

describe('compose.yaml', () => {
  it('runs PostgreSQL 16 and Redis 7 with persistence and health checks', () => {
    expect(services.postgres!.image).toMatch(/^postgres:16/);
    expect(services.redis!.image).toMatch(/^redis:7/);
    expect(services.redis!.command.join(' ')).toContain('--appendonly yes');
    for (const name of ['postgres', 'redis']) expect(services[name]!.healthcheck.test.length).toBeGreaterThan(0);
  });

  it('starts every service of ours with a real package.json script, on the official Bun image', async () => {
    for (const name of ours) {
      const command: string[] = services[name]!.command;
      expect(command.slice(0, 2)).toEqual(['bun', 'run']);
      expect(Object.keys(scripts)).toContain(command[2]!);
    }
    expect(services.migrate!.command).toEqual(['bun', 'run', 'db:migrate']);
    const dockerfile = await Bun.file(new URL('Dockerfile', root)).text();
    expect(dockerfile).toMatch(/^FROM oven\/bun:/m);
    expect(dockerfile).toContain('bun install --frozen-lockfile');
    // The install applies patches/, so they must be in the image before it.
    expect(dockerfile.indexOf('COPY patches')).toBeGreaterThan(-1);
    expect(dockerfile.indexOf('COPY patches')).toBeLessThan(dockerfile.indexOf('bun install'));
  });

  it('runs migrate once before the rest, and restarts and health-checks the long-running services', () => {
    expect(services.migrate!.restart).toBe('no');
    expect(services.migrate!.depends_on.postgres.condition).toBe('service_healthy');
    for (const name of ['api', 'payment', 'notify']) {
      const service = services[name]!;
      expect(service.depends_on.migrate.condition).toBe('service_completed_successfully');
      expect(service.depends_on.redis.condition).toBe('service_healthy');
      expect(service.restart).toBe('unless-stopped');
      expect(service.healthcheck.test.join(' ')).toContain('/health');
    }
  });

  it('sets only variables the code reads, all of them valid, pointing at the compose services', () => {
    for (const name of ours) {
      const env: Record<string, string> = services[name]!.environment;
      for (const key of Object.keys(env)) expect(known.has(key) ? key : `unknown variable ${key} in ${name}`).toBe(key);
      const config = loadConfig(env);
      expect(new URL(config.database.url).hostname).toBe('postgres');
      expect(new URL(config.redisUrl).hostname).toBe('redis');
    }
    // Each service's health check probes the port its process actually listens on.
    expect(services.api!.healthcheck.test.join(' ')).toContain(`:${loadConfig(services.api!.environment).api.port}/health`);
    for (const name of ['payment', 'notify']) {
      const port = loadConfig(services[name]!.environment).healthPort;
      expect(services[name]!.healthcheck.test.join(' ')).toContain(`:${port}/health`);
    }
  });

  it('lets the workers scale: no container names, no host ports', () => {
    for (const name of ['payment', 'notify']) {
      expect(services[name]!.container_name).toBeUndefined();
      expect(services[name]!.ports).toBeUndefined();
      expect(services[name]!.environment.CONSUMER_NAME).toBeUndefined();
    }
  });

  it('publishes PostgreSQL and Redis on the loopback interface only', () => {
    for (const name of ['postgres', 'redis']) {
      const ports: string[] = services[name]!.ports ?? [];
      for (const mapping of ports) expect(mapping).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it('makes Redis require a password, from REDIS_PASSWORD with a default, the same one every service sends', () => {
    for (const [env, password] of [[{}, 'order-service-dev-redis'], [{ REDIS_PASSWORD: 'set-by-the-operator' }, 'set-by-the-operator']] as const) {
      const { services: resolved } = composeWith(env);
      const command: string[] = resolved.redis!.command;
      expect(command[command.indexOf('--requirepass') + 1]).toBe(password);
      expect(resolved.redis!.environment.REDISCLI_AUTH).toBe(password);
      for (const name of ours) expect(decodeURIComponent(new URL(loadConfig(resolved[name]!.environment).redisUrl).password)).toBe(password);
    }
  });

  it("runs Redis's command as written, refusing clients without the password and taking the services' REDIS_URL", async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'compose-redis-'));
    const command: string[] = services.redis!.command;
    // The compose command itself, on a free local port and a scratch directory instead of the container's.
    const proc = Bun.spawn([...command, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''], { stdout: 'ignore', stderr: 'ignore' });
    const url = new URL(loadConfig(services.api!.environment).redisUrl);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    const withPassword = new Redis(url.href, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // No ready check: it would fail on NOAUTH before the test can ask.
    const anonymous = new Redis(`redis://127.0.0.1:${port}/0`, { lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    for (const client of [withPassword, anonymous]) client.on('error', () => {});
    try {
      const pong = await waitFor(async () => {
        if (withPassword.status !== 'ready') await withPassword.connect().catch(() => withPassword.disconnect());
        return withPassword.status === 'ready' && (await withPassword.ping());
      }, { what: `redis-server from compose.yaml on port ${port}` });
      expect(pong).toBe('PONG');
      await anonymous.connect();
      await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    } finally {
      withPassword.disconnect();
      anonymous.disconnect();
      proc.kill('SIGKILL');
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('compose.yaml, the observability profile', () => {
  const observability = ['prometheus', 'grafana', 'jaeger'];
  /** `./host/path:/container/path[:ro]` bind mounts of a service, as [host path, container path]. */
  const binds = (name: string): [string, string][] =>
    ((services[name]!.volumes ?? []) as string[]).filter((volume) => volume.startsWith('./')).map((volume) => volume.split(':').slice(0, 2) as [string, string]);
  const mountOf = (name: string, hostPath: string) => binds(name).find(([host]) => host === hostPath)?.[1];
  const containerPorts = (name: string) => (services[name]!.ports as string[]).map((mapping) => Number(mapping.split(':').at(-1)));

  it('runs Prometheus, Grafana and Jaeger only with --profile observability, and the rest without it', () => {
    const profiled = Object.entries(services).filter(([, service]) => service.profiles).map(([name]) => name);
    expect(profiled.toSorted()).toEqual(observability.toSorted());
    for (const name of observability) expect(services[name]!.profiles).toEqual(['observability']);
  });

  it('mounts files that exist in the repository', () => {
    const mounted = observability.flatMap(binds);
    expect(mounted.length).toBeGreaterThanOrEqual(4);
    for (const [host] of mounted) expect(existsSync(new URL(host, root)) ? host : `${host} does not exist`).toBe(host);
  });

  it('gives Prometheus its config where its command reads it, and the rules where the config points', async () => {
    const configPath = (services.prometheus!.command as string[]).find((arg) => arg.startsWith('--config.file='))!.split('=')[1]!;
    expect(mountOf('prometheus', './monitoring/prometheus.yml')).toBe(configPath);
    const config = await loadPrometheusConfig();
    for (const pattern of config.rule_files) expect(mountOf('prometheus', `./monitoring/${dirname(pattern)}`)).toBe(join(dirname(configPath), dirname(pattern)));
  });

  it('scrapes every process of ours on the port it listens on, each replica on its own', async () => {
    const config = await loadPrometheusConfig();
    const scraped = new Map(config.scrape_configs.flatMap((job) => (job.dns_sd_configs ?? []).flatMap((sd) => sd.names.map((host) => [host, sd.port] as const))));
    expect(scraped.get('api')).toBe(loadConfig(services.api!.environment).api.port);
    for (const name of ['payment', 'notify']) expect(scraped.get(name)).toBe(loadConfig(services[name]!.environment).healthPort!);
    // Nothing else, and by DNS (every replica of `--scale payment=3`), never one fixed target.
    expect([...scraped.keys()].toSorted()).toEqual(['api', 'notify', 'payment']);
    for (const job of config.scrape_configs) expect(job.static_configs).toBeUndefined();
  });

  it('provisions Grafana with the compose Prometheus and Jaeger, and the dashboard folder where the provider looks', async () => {
    const provisioning = mountOf('grafana', './monitoring/grafana/provisioning');
    expect(provisioning).toBe('/etc/grafana/provisioning');
    const sources = Bun.YAML.parse(await Bun.file(new URL('monitoring/grafana/provisioning/datasources/datasources.yaml', root)).text()) as {
      datasources: { type: string; url: string }[];
    };
    for (const source of sources.datasources) {
      const url = new URL(source.url);
      expect(Object.keys(services)).toContain(url.hostname);
      expect(containerPorts(url.hostname)).toContain(Number(url.port));
    }
    expect(sources.datasources.map((source) => source.type).toSorted()).toEqual(['jaeger', 'prometheus']);
    const providers = Bun.YAML.parse(await Bun.file(new URL('monitoring/grafana/provisioning/dashboards/dashboards.yaml', root)).text()) as {
      providers: { options: { path: string } }[];
    };
    const dashboards = mountOf('grafana', './monitoring/grafana/dashboards')!;
    expect(providers.providers.map((provider) => provider.options.path)).toEqual([dashboards]);
    const home: string = services.grafana!.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(dirname(home)).toBe(dashboards);
    expect(existsSync(new URL(`monitoring/grafana/dashboards/${home.slice(dashboards.length + 1)}`, root))).toBe(true);
  });

  it('runs a trace backend that takes OTLP over gRPC and HTTP', () => {
    expect(services.jaeger!.environment.COLLECTOR_OTLP_ENABLED).toBe('true');
    expect(containerPorts('jaeger')).toEqual(expect.arrayContaining([4317, 4318, 16686]));
  });

  it('publishes their ports on the loopback interface only, none of them the API port', () => {
    for (const name of observability) {
      for (const mapping of services[name]!.ports as string[]) expect(mapping).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
    expect((services.grafana!.ports as string[]).some((mapping) => mapping.startsWith('127.0.0.1:3000:'))).toBe(false);
  });
});
