import { describe, expect, it } from 'bun:test';
import { ConfigError, loadConfig } from '../../src/shared/config.ts';

describe('loadConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/orders',
      redisUrl: 'redis://127.0.0.1:6379/0',
      port: 3000,
      logLevel: 'info',
      idempotencyKeyTtlHours: 24,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('converts numbers and treats an empty variable as unset', () => {
    const config = loadConfig({ PORT: '8080', LOG_LEVEL: '' });
    expect(config.port).toBe(8080);
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
});
