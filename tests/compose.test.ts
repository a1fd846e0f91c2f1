import { describe, expect, it } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Redis from 'ioredis';
import { partitionKeys, TOPOLOGY } from '../src/shared/pipeline/topology.ts';
import { EnvSchema, loadConfig } from '../src/shared/runtime/config.ts';
import { readTracingSettings, TRACING_VARIABLES } from '../src/shared/tracing/settings.ts';
import { createLogger } from '../src/shared/runtime/log.ts';
import { assertClusterReady, createRedisClient } from '../src/shared/runtime/redis.ts';
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
// The Config's variables, and the OpenTelemetry ones docs/tracing.md documents.
const known = new Set([...Object.keys(EnvSchema.properties), ...Object.keys(TRACING_VARIABLES)]);
const services = compose.services;
const ours = ['migrate', 'api', 'payment', 'notify'];
// The local stand-ins for the other sides of our boundaries.
const localServers = ['stripe-sandbox', 'mail'];

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

  it('pays through the Stripe sandbox, which signs its webhooks to the API with the secret the API checks', () => {
    const { services: resolved } = composeWith({});
    const sandbox = resolved['stripe-sandbox']!;
    expect(sandbox.command).toEqual(['bun', 'run', 'stripe-sandbox']);
    expect(Object.keys(scripts)).toContain('stripe-sandbox');
    for (const name of ['api', 'payment']) {
      const config = loadConfig(resolved[name]!.environment);
      expect(config.payment.provider).toBe('stripe');
      expect(config.stripe.apiUrl).toBe(`http://stripe-sandbox:${sandbox.environment.STRIPE_SANDBOX_PORT}`);
      expect(config.stripe.webhookSecret).toBe(sandbox.environment.STRIPE_SANDBOX_WEBHOOK_SECRET);
    }
    const api = loadConfig(resolved.api!.environment);
    expect(sandbox.environment.STRIPE_SANDBOX_WEBHOOK_URL).toBe(`http://api:${api.api.port}/webhooks/stripe`);
    const { services: withSecret } = composeWith({ STRIPE_WEBHOOK_SECRET: 'whsec_from_the_operator' });
    expect(withSecret['stripe-sandbox']!.environment.STRIPE_SANDBOX_WEBHOOK_SECRET).toBe('whsec_from_the_operator');
    expect(withSecret.api!.environment.STRIPE_WEBHOOK_SECRET).toBe('whsec_from_the_operator');
  });

  it("sends the customers' e-mails to a mail catcher whose page is on the loopback interface, started before notify", () => {
    const mail = services.mail!;
    expect(mail.image).toMatch(/^maildev\/maildev:\d/);
    expect(mail.ports).toEqual(['127.0.0.1:1080:1080']);
    for (const name of ['notify', 'notify-cluster']) {
      const config = loadConfig(services[name]!.environment);
      expect(new URL(config.notify.email.smtpUrl).host).toBe('mail:1025');
      expect(services[name]!.depends_on.mail.condition).toBe('service_started');
    }
    expect(loadConfig(composeWith({ SMTP_URL: 'smtp://relay.example:587' }).services.notify!.environment).notify.email.smtpUrl).toBe('smtp://relay.example:587');
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
    const profiled = Object.entries(services).filter(([, service]) => service.profiles?.includes('observability')).map(([name]) => name);
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

  it('has the services trace to it with OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318, and not at all without', () => {
    const { services: traced } = composeWith({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' });
    for (const name of ['api', 'payment', 'notify']) {
      expect(readTracingSettings(services[name]!.environment, name).enabled).toBe(false);
      const settings = readTracingSettings(traced[name]!.environment, name);
      if (!settings.enabled) throw new Error(`${name} does not trace`);
      const endpoint = new URL(settings.endpoint);
      expect(endpoint.hostname).toBe('jaeger');
      expect(containerPorts('jaeger')).toContain(Number(endpoint.port));
    }
  });

  it('publishes their ports on the loopback interface only, none of them the API port', () => {
    for (const name of observability) {
      for (const mapping of services[name]!.ports as string[]) expect(mapping).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
    expect((services.grafana!.ports as string[]).some((mapping) => mapping.startsWith('127.0.0.1:3000:'))).toBe(false);
  });
});

describe('compose.yaml, the cluster profile', () => {
  const nodes = ['redis-cluster-1', 'redis-cluster-2', 'redis-cluster-3', 'redis-cluster-4', 'redis-cluster-5', 'redis-cluster-6'];
  const init = 'redis-cluster-init';
  /** Each of ours on the cluster, and its counterpart in the default system. */
  const counterparts = { 'migrate-cluster': 'migrate', 'api-cluster': 'api', 'payment-cluster': 'payment', 'notify-cluster': 'notify' } as const;
  const oursOnCluster = Object.keys(counterparts) as (keyof typeof counterparts)[];
  const running = oursOnCluster.filter((name) => name !== 'migrate-cluster');
  const privateNetwork = 'redis-cluster';
  /** The value after `flag` in a command; the last one, as redis-server reads it. */
  const arg = (command: string[], flag: string) => (command.includes(flag) ? command[command.lastIndexOf(flag) + 1] : undefined);
  const nodePort = (name: string, from = services) => Number(arg(from[name]!.command, '--port') ?? 6379);
  const initScript = (from = services) => (from[init]!.command as string[]).join(' ');

  it('runs the cluster and our services on it only with --profile cluster, leaving the default system as it was', () => {
    const inCluster = Object.entries(services).filter(([, service]) => service.profiles?.includes('cluster')).map(([name]) => name);
    expect(inCluster.toSorted()).toEqual([...nodes, init, ...oursOnCluster].toSorted());
    for (const name of inCluster) expect(services[name]!.profiles).toEqual(['cluster']);
    const always = Object.entries(services).filter(([, service]) => !service.profiles).map(([name]) => name);
    expect(always.toSorted()).toEqual(['postgres', 'redis', ...ours, ...localServers].toSorted());
    // The default system stands alone: none of it waits for a profiled service.
    for (const name of always) for (const dependency of Object.keys(services[name]!.depends_on ?? {})) expect(always).toContain(dependency);
    // The same processes as the default system's, only configured for the cluster.
    for (const name of oursOnCluster) expect(services[name]!.command).toEqual(services[counterparts[name]]!.command);
  });

  it('runs six cluster-enabled Redis 7 nodes, each announcing its own service name as a host name, with the password and AOF', () => {
    for (const [env, password] of [[{}, 'order-service-dev-redis'], [{ REDIS_PASSWORD: 'set-by-the-operator' }, 'set-by-the-operator']] as const) {
      const { services: resolved } = composeWith(env);
      for (const name of nodes) {
        const node = resolved[name]!;
        const command: string[] = node.command;
        expect(node.image).toMatch(/^redis:7/);
        expect(command[0]).toBe('redis-server');
        expect(arg(command, '--cluster-enabled')).toBe('yes');
        // Clients (ioredis inside the network) are sent to this name, which compose's DNS resolves.
        expect(arg(command, '--cluster-announce-hostname')).toBe(name);
        expect(arg(command, '--cluster-preferred-endpoint-type')).toBe('hostname');
        expect(arg(command, '--appendonly')).toBe('yes');
        expect(arg(command, '--requirepass')).toBe(password);
        // A replica authenticates to its master with it.
        expect(arg(command, '--masterauth')).toBe(password);
        expect(node.environment.REDISCLI_AUTH).toBe(password);
        expect(node.healthcheck.test.join(' ')).toContain('PONG');
        expect(node.networks).toEqual([privateNetwork]);
        expect(node.ports).toBeUndefined();
      }
    }
    const networks = (Bun.YAML.parse(composeText) as { networks: Record<string, { internal?: boolean }> }).networks;
    expect(networks[privateNetwork]!.internal).toBe(true);
  });

  it('forms the cluster with one redis-cli --cluster create over every node, one replica per master, once every node is healthy', () => {
    const script = initScript();
    const create = script.match(/redis-cli --cluster create ((?:\S+:\d+ )+)--cluster-replicas 1 --cluster-yes/);
    expect(create).not.toBeNull();
    expect(create![1]!.trim().split(' ')).toEqual(nodes.map((name) => `${name}:${nodePort(name)}`));
    const service = services[init]!;
    expect(service.image).toMatch(/^redis:7/);
    expect(service.restart).toBe('no');
    expect(service.networks).toContain(privateNetwork);
    expect(service.environment.REDISCLI_AUTH).toBe('order-service-dev-redis');
    expect(Object.keys(service.depends_on).toSorted()).toEqual(nodes.toSorted());
    for (const name of nodes) expect(service.depends_on[name].condition).toBe('service_healthy');
    for (const name of running) {
      expect(services[name]!.depends_on[init].condition).toBe('service_completed_successfully');
      expect(services[name]!.depends_on['migrate-cluster'].condition).toBe('service_completed_successfully');
      expect(services[name]!.restart).toBe('unless-stopped');
    }
  });

  it('configures our services for the cluster: valid settings, every seed a cluster node on its port, partitioned, a database of their own', () => {
    for (const [env, password] of [[{}, 'order-service-dev-redis'], [{ REDIS_PASSWORD: 'set-by-the-operator' }, 'set-by-the-operator']] as const) {
      const { services: resolved } = composeWith(env);
      for (const name of oursOnCluster) {
        const environment: Record<string, string> = resolved[name]!.environment;
        for (const key of Object.keys(environment)) expect(known.has(key) ? key : `unknown variable ${key} in ${name}`).toBe(key);
        const config = loadConfig(environment);
        expect(config.redisClusterNodes?.length).toBeGreaterThan(0);
        for (const seed of config.redisClusterNodes!) {
          expect(nodes).toContain(seed.host);
          expect(seed.port).toBe(nodePort(seed.host, resolved));
        }
        expect(config.partitions.count).toBeGreaterThan(1);
        // The password the nodes require travels in REDIS_URL.
        expect(decodeURIComponent(new URL(config.redisUrl).password)).toBe(password);
        for (const node of nodes) expect(arg(resolved[node]!.command, '--requirepass')).toBe(password);
        const database = new URL(config.database.url);
        expect(database.hostname).toBe('postgres');
        expect(database.pathname).not.toBe(new URL(loadConfig(resolved[counterparts[name]]!.environment).database.url).pathname);
      }
    }
    for (const name of running) {
      // The cluster's network for Redis, the default one for PostgreSQL (and the published API port).
      expect(services[name]!.networks.toSorted()).toEqual(['default', privateNetwork]);
      const config = loadConfig(services[name]!.environment);
      expect(services[name]!.healthcheck.test.join(' ')).toContain(`:${name === 'api-cluster' ? config.api.port : config.healthPort}/health`);
    }
    for (const name of ['payment-cluster', 'notify-cluster']) {
      expect(services[name]!.container_name).toBeUndefined();
      expect(services[name]!.ports).toBeUndefined();
      expect(services[name]!.environment.CONSUMER_NAME).toBeUndefined();
    }
  });

  it('publishes nothing beyond the loopback interface, and no host port twice', () => {
    for (const name of [...nodes, init, ...oursOnCluster]) {
      for (const mapping of (services[name]!.ports ?? []) as string[]) expect(mapping).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
    const hostPorts = Object.values(services).flatMap((service) => ((service.ports ?? []) as string[]).map((mapping) => mapping.split(':').at(-2)));
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it("runs the nodes' and the one-shot's commands as written: a cluster forms once, and the services' client uses it with their password", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'compose-cluster-'));
    const ports = new Map<string, number>();
    const procs: ReturnType<typeof Bun.spawn>[] = [];
    const config = loadConfig(services['payment-cluster']!.environment);
    const log = createLogger({ service: 'compose-test', level: 'silent' });
    let client: ReturnType<typeof createRedisClient> | undefined;
    try {
      for (const name of nodes) {
        const port = await freePort();
        ports.set(name, port);
        // Each command as written, on a free local port and a scratch directory, announcing 127.0.0.1: the
        // container host names only resolve inside compose's network.
        const nodeDir = join(dir, name);
        mkdirSync(nodeDir);
        const command = [...(services[name]!.command as string[]), '--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir, '--save', '', '--cluster-announce-hostname', '127.0.0.1'];
        procs.push(Bun.spawn(command, { stdout: 'ignore', stderr: 'ignore' }));
      }
      const password = arg(services[nodes[0]!]!.command, '--requirepass')!;
      for (const [name, port] of ports) {
        await waitFor(() => Bun.spawnSync(['redis-cli', '-p', String(port), 'ping'], { env: { ...Bun.env, REDISCLI_AUTH: password } }).stdout.toString().includes('PONG'), {
          what: `${name} on port ${port}`,
        });
      }
      // The one-shot's script with each service name:port as this machine's port.
      let script = (services[init]!.command as string[]).at(-1)!;
      for (const [name, port] of ports) script = script.replaceAll(`${name}:${nodePort(name)}`, `127.0.0.1:${port}`).replaceAll(`-h ${name} `, `-h 127.0.0.1 -p ${port} `);
      const runInit = () => Bun.spawnSync(['sh', '-c', script], { env: { ...Bun.env, ...services[init]!.environment } });
      const first = runInit();
      expect(first.exitCode === 0 ? 0 : first.stdout.toString() + first.stderr.toString()).toBe(0);
      const again = runInit();
      expect(again.exitCode).toBe(0);
      expect(again.stdout.toString()).toContain('already formed');

      const seed = ports.get(config.redisClusterNodes![0]!.host)!;
      client = createRedisClient({ url: config.redisUrl, clusterNodes: [{ host: '127.0.0.1', port: seed }] }, { connectionName: 'compose-test', log });
      await assertClusterReady(client, { url: config.redisUrl, clusterNodes: [{ host: '127.0.0.1', port: seed }] });
      // The seed may not have heard of the last node yet (gossip), even with every slot served: wait for it.
      const info = await waitFor(
        async () => {
          const text = String(await client!.cluster('INFO'));
          return text.includes('cluster_known_nodes:6') && text;
        },
        { what: 'the seed to know all six nodes' },
      );
      expect(info).toContain('cluster_size:3');
      // Each replica replicates (it authenticates to its master with --masterauth).
      const replication = (port: number) => Bun.spawnSync(['redis-cli', '-p', String(port), 'info', 'replication'], { env: { ...Bun.env, REDISCLI_AUTH: password } }).stdout.toString();
      await waitFor(() => [...ports.values()].filter((port) => replication(port).includes('role:slave')).length === 3, { what: 'three replicas' });
      for (const port of ports.values()) {
        if (replication(port).includes('role:slave')) await waitFor(() => replication(port).includes('master_link_status:up'), { what: `the replica on ${port} in sync` });
      }
      // Every partition of the services' streams is writable, wherever its slot lives.
      for (const { key } of partitionKeys('compose-test:', TOPOLOGY.OrderPlaced.stream, config.partitions.count)) {
        expect(await client.xadd(key, '*', 'probe', '1')).toBeTruthy();
      }
    } finally {
      client?.disconnect();
      for (const proc of procs) proc.kill('SIGKILL');
      await Promise.all(procs.map((proc) => proc.exited));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
