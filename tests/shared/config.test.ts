import { describe, expect, it } from 'bun:test';
import { ConfigError, loadConfig } from '../../src/shared/runtime/config.ts';

describe('loadConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      database: { url: 'postgres://postgres@127.0.0.1:5432/orders', poolSize: 10 },
      redisUrl: 'redis://127.0.0.1:6379/0',
      logLevel: 'info',
      api: { port: 3000, idempotencyKeyTtlHours: 24 },
      consumer: { concurrency: 16, batchSize: 100, claimIdleMs: 15_000, maxDeliveries: 5 },
      testing: { crashAt: 'none' },
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.consumer)).toBe(true);
  });

  it('converts numbers and treats an empty variable as unset', () => {
    const config = loadConfig({ PORT: '8080', LOG_LEVEL: '' });
    expect(config.api.port).toBe(8080);
    expect(config.logLevel).toBe('info');
  });

  it('names every bad variable with the value it had', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://localhost/x' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('PORT="eighty"');
    expect(problems).toContain('LOG_LEVEL="loud": expected one of fatal, error, warn, info');
    expect(problems).toContain('DATABASE_URL="mysql://localhost/x"');
  });

  it('refuses to keep idempotency keys for less than 24 hours', () => {
    expect(() => loadConfig({ IDEMPOTENCY_KEY_TTL_HOURS: '1' })).toThrow(/IDEMPOTENCY_KEY_TTL_HOURS="1"/);
  });

  it('refuses a Redis Cluster without partitions, or with a hash tag in the prefix, naming the settings', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' })).toThrow(/STREAM_PARTITIONS=1 must be at least 2 with REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', STREAM_PARTITIONS: '3', STREAM_PREFIX: '{app}:' })).toThrow(/STREAM_PREFIX="\{app\}:"/);
    expect(() => loadConfig({ STREAM_PARTITIONS: '3', CONSUMER_PARTITIONS: '2-3' })).toThrow(/CONSUMER_PARTITIONS="2-3"/);
    expect(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001', STREAM_PARTITIONS: '6', CONSUMER_PARTITIONS: '0-2,5' }).partitions).toEqual({ count: 6, consumed: [0, 1, 2, 5] });
  });
});
