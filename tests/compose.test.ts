import { describe, expect, it } from 'bun:test';
import { EnvSchema, loadConfig } from '../src/shared/runtime/config.ts';

// Docker is not on the test machines, so the file is checked against the code instead of run.
const root = new URL('..', import.meta.url);
const compose = Bun.YAML.parse(await Bun.file(new URL('compose.yaml', root)).text()) as {
  services: Record<string, Record<string, any>>;
};
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
});
