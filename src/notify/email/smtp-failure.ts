import { isPermanentResponseCode } from 'nodemailer/lib/errors';
import type { AttemptResult } from '../channel.ts';

interface SmtpError {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/**
 * What a failed send means, from nodemailer's error: a permanent reply (5xx, RFC 5321; nodemailer's
 * own reading, which keeps 503 transient) to our envelope or message (EENVELOPE: MAIL FROM or RCPT TO,
 * EMESSAGE: DATA) refuses this message for good. Anything else is deferred: a 4xx (greylisting, a full
 * mailbox), a refused or dropped connection, no answer in time (ETIMEDOUT, or our deadline: EABORT), and
 * also a 5xx to anything else (a refused login: our configuration, not the customer's address, so the
 * e-mail waits on the schedule while someone fixes it).
 */
export function smtpAttemptResult(error: unknown): AttemptResult {
  const { code, responseCode, response, message } = (error ?? {}) as SmtpError;
  const reply = response?.trim() || [code, message].filter(Boolean).join(': ') || String(error);
  if (typeof responseCode === 'number' && isPermanentResponseCode(responseCode) && (code === 'EENVELOPE' || code === 'EMESSAGE')) return { kind: 'refused', reply };
  if (code === 'EABORT') return { kind: 'deferred', reply: 'the mail server did not accept the message within SMTP_TIMEOUT_MS' };
  return { kind: 'deferred', reply };
}
