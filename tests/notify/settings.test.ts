import { describe, expect, it } from 'bun:test';
import { ConfigError, loadConfig, settingKind } from '../../src/shared/runtime/config.ts';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  return '';
};

describe('the notification settings', () => {
  it('default to the local mail sink, mail-sized e-mail retries, the Standard Webhooks schedule, and no webhook', () => {
    const { notify } = loadConfig({});
    expect(notify.email).toEqual({
      smtpUrl: 'smtp://127.0.0.1:1025',
      from: 'Order service <orders@example.com>',
      timeoutMs: 30_000,
      retryScheduleMs: [60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000],
    });
    expect(notify.webhook).toBeUndefined();
    const hours = (ms: readonly number[]) => ms.reduce((a, b) => a + b, 0) / 3_600_000;
    expect(hours(notify.email.retryScheduleMs)).toBeGreaterThan(7);
    const webhook = loadConfig({ ORDER_WEBHOOK_URL: 'https://kitchen.example/hooks', ORDER_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }).notify.webhook!;
    expect(webhook).toMatchObject({ url: 'https://kitchen.example/hooks', timeoutMs: 15_000, retryScheduleMs: [5000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000] });
    // About a day in all, as Standard Webhooks suggests.
    expect(hours(webhook.retryScheduleMs)).toBeGreaterThan(24);
    expect(hours(webhook.retryScheduleMs)).toBeLessThan(30);
  });

  it('refuse a webhook URL without its secret, and never print the secret', () => {
    expect(problemsOf({ ORDER_WEBHOOK_URL: 'https://kitchen.example/hooks' })).toContain('ORDER_WEBHOOK_SECRET must be set with ORDER_WEBHOOK_URL="https://kitchen.example/hooks"');
    expect(settingKind('ORDER_WEBHOOK_SECRET')).toBe('secret');
    const refused = problemsOf({ ORDER_WEBHOOK_URL: 'https://kitchen.example/hooks', ORDER_WEBHOOK_SECRET: 'not-a-whsec-secret' });
    expect(refused).toContain('ORDER_WEBHOOK_SECRET');
    expect(refused).not.toContain('not-a-whsec-secret');
  });

  it('refuse a URL that is not SMTP, a From without an address, and schedules that are not milliseconds', () => {
    expect(problemsOf({ SMTP_URL: 'http://mail.example' })).toContain('SMTP_URL');
    expect(problemsOf({ SMTP_URL: 'smtp://user:hunter2@mail.example:587' })).toBe('');
    expect(problemsOf({ SMTP_URL: 'ftp://user:hunter2@mail.example' })).not.toContain('hunter2');
    expect(problemsOf({ MAIL_FROM: 'Order service' })).toContain('MAIL_FROM');
    expect(problemsOf({ EMAIL_RETRY_SCHEDULE_MS: '60000,,300000' })).toContain('EMAIL_RETRY_SCHEDULE_MS');
    expect(problemsOf({ WEBHOOK_RETRY_SCHEDULE_MS: '5s' })).toContain('WEBHOOK_RETRY_SCHEDULE_MS');
    expect(loadConfig({ EMAIL_RETRY_SCHEDULE_MS: ' 100 , 200 ' }).notify.email.retryScheduleMs).toEqual([100, 200]);
  });
});
