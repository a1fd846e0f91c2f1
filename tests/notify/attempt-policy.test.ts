import { describe, expect, it } from 'bun:test';
import fc from 'fast-check';
import { decideAttempt, RETRY_HOLD_MARGIN_MS } from '../../src/notify/attempt-policy.ts';
import type { AttemptResult } from '../../src/notify/channel.ts';
import { smtpAttemptResult } from '../../src/notify/email/smtp-failure.ts';
import { retryAfterMs } from '../../src/notify/webhook/retry-after.ts';
import { retryDelay } from '../../src/shared/streams/retry-schedule.ts';

const schedule = fc.array(fc.integer({ min: 1, max: 86_400_000 }), { minLength: 1, maxLength: 10 });
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const deferred = (retryAfter?: number): AttemptResult => ({ kind: 'deferred', reply: '451 4.7.1 Greylisted', ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }) });

describe('decideAttempt', () => {
  it('records an accepted attempt sent, and a refused one failed for good, whatever the attempt', () => {
    fc.assert(
      fc.property(schedule, fc.integer({ min: 1, max: 20 }), (steps, attempt) => {
        expect(decideAttempt({ kind: 'sent', reply: '250 OK' }, attempt, steps)).toEqual({ record: 'sent' });
        expect(decideAttempt({ kind: 'refused', reply: '550 5.1.1 no such user' }, attempt, steps)).toEqual({ record: 'failed', because: 'refused' });
      }),
    );
  });

  it('defers exactly while the consumer has a step left, and says the schedule is spent when it has none', () => {
    fc.assert(
      fc.property(schedule, fc.integer({ min: 1, max: 20 }), unit, (steps, attempt, r) => {
        const decision = decideAttempt(deferred(), attempt, steps);
        const consumerWaits = retryDelay({ attempt, schedule: steps, random: () => r });
        expect(decision.record).toBe(consumerWaits === undefined ? 'failed' : 'deferred');
        if (consumerWaits === undefined) expect(decision).toEqual({ record: 'failed', because: 'exhausted' });
      }),
    );
  });

  it("holds a deferred delivery from the reconciler at least as long as the consumer can make it wait, Retry-After included", () => {
    fc.assert(
      fc.property(schedule, fc.nat(20), unit, fc.option(fc.integer({ min: 0, max: 90_000_000 }), { nil: undefined }), (steps, pick, r, asked) => {
        const attempt = (pick % steps.length) + 1;
        const decision = decideAttempt(deferred(asked), attempt, steps);
        const consumerWaits = retryDelay({ attempt, schedule: steps, retryAfterMs: asked, random: () => r })!;
        expect(decision.record).toBe('deferred');
        if (decision.record !== 'deferred') return;
        expect(decision.holdMs).toBeGreaterThanOrEqual(consumerWaits + RETRY_HOLD_MARGIN_MS);
        expect(decision.retryAfterMs).toBe(asked);
      }),
    );
  });
});

describe('smtpAttemptResult', () => {
  const smtp = (code: string, responseCode?: number, response?: string) => Object.assign(new Error(response ?? code), { code, responseCode, response });

  it('refuses for good on a 5xx to the envelope or the message, with the server\'s reply', () => {
    expect(smtpAttemptResult(smtp('EENVELOPE', 550, '550 5.1.1 <ada@example.com>: Recipient address rejected'))).toEqual({
      kind: 'refused',
      reply: '550 5.1.1 <ada@example.com>: Recipient address rejected',
    });
    expect(smtpAttemptResult(smtp('EMESSAGE', 554, '554 5.7.1 Message rejected as spam'))).toMatchObject({ kind: 'refused' });
  });

  it('defers a 4xx (greylisting, a full mailbox), a 503, a refused login, a dropped or refused connection and our own deadline', () => {
    for (const error of [
      smtp('EENVELOPE', 451, '451 4.7.1 Greylisted, please try again later'),
      smtp('EMESSAGE', 452, '452 4.2.2 Mailbox full'),
      smtp('EENVELOPE', 503, '503 5.5.1 Bad sequence of commands'),
      smtp('EAUTH', 535, '535 5.7.8 Authentication credentials invalid'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1025'), { code: 'ECONNECTION' }),
      Object.assign(new Error('Greeting never received'), { code: 'ETIMEDOUT' }),
      Object.assign(new Error('Message sending aborted'), { code: 'EABORT' }),
      new Error('something else'),
    ]) {
      expect(smtpAttemptResult(error).kind).toBe('deferred');
    }
    expect(smtpAttemptResult(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1025'), { code: 'ECONNECTION' })).reply).toBe('ECONNECTION: connect ECONNREFUSED 127.0.0.1:1025');
    expect(smtpAttemptResult(Object.assign(new Error('aborted'), { code: 'EABORT' })).reply).toContain('SMTP_TIMEOUT_MS');
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-04T12:00:00Z');
  it('reads delay-seconds and HTTP dates, a past date as 0, and nothing else', () => {
    expect(retryAfterMs('30', now)).toBe(30_000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Fri, 04 Dec 2026 12:02:00 GMT', now)).toBe(120_000);
    expect(retryAfterMs('Fri, 04 Dec 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('-5', now)).toBeUndefined();
  });
});
