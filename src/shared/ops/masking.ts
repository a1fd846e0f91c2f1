import { createHmac } from 'node:crypto';
import type { DeadLetterEntry } from './dead-letters.ts';
import type { StreamReport } from './stream-report.ts';

/**
 * What the operations page may show to someone without the admin token: counts, ids, reasons and
 * masked values. Customer e-mail addresses, order contents and host names (consumer names default to
 * `<hostname>-<pid>`) are personal or reconnaissance data. Pure functions, no IO.
 */

export const MASK = '***';

/** `ada@example.com` -> `a***@example.com`: enough to tell two customers apart, not to write to one. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return at > 0 ? `${email[0]}${MASK}${email.slice(at)}` : MASK;
}

const EMAIL_IN_TEXT = /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+/g;

/** Free text (a dead letter's reason) with every e-mail-looking word masked. */
export function maskEmailsIn(text: string): string {
  return text.replace(EMAIL_IN_TEXT, maskEmail);
}

/**
 * A stable opaque label for a consumer: the same name gives the same label on every poll and in
 * every section (streams, dead letters, breakers), and it cannot be turned back into a host name
 * without `key`.
 */
export function consumerLabel(name: string, key: string): string {
  if (name === '') return '';
  return `consumer-${createHmac('sha256', key).update(name).digest('hex').slice(0, 10)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Fields an entry is traced by, shown as they are only when they look like what we write there,
// so a malformed entry cannot smuggle an address through a "safe" field.
const SAFE_FIELDS: Record<string, RegExp> = {
  eventId: UUID,
  orderId: UUID,
  type: /^[A-Za-z]{1,64}$/,
  occurredAt: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/,
};
const PLAIN_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * A dead letter's original fields reduced to the safe ones: ids and type as they are, an e-mail
 * masked, everything else (amounts, items, request ids, whatever a malformed entry carried) replaced
 * by `***`. Field names that are not plain identifiers are renamed, since the name itself could be data.
 */
export function maskFields(fields: Record<string, string>): Record<string, string> {
  const masked: Record<string, string> = {};
  let odd = 0;
  for (const [name, value] of Object.entries(fields)) {
    const shownName = PLAIN_NAME.test(name) ? name : `(field ${++odd})`;
    if (SAFE_FIELDS[name]?.test(value)) masked[shownName] = value;
    else masked[shownName] = /email/i.test(name) ? maskEmail(value) : MASK;
  }
  return masked;
}

export function maskDeadLetter(letter: DeadLetterEntry, labelKey: string): DeadLetterEntry {
  return { ...letter, consumer: consumerLabel(letter.consumer, labelKey), error: maskEmailsIn(letter.error), fields: maskFields(letter.fields) };
}

export function maskStreams(streams: StreamReport[], labelKey: string): StreamReport[] {
  return streams.map((stream) => ({
    ...stream,
    groups: stream.groups.map((group) => ({
      ...group,
      consumers: group.consumers.map((consumer) => ({ ...consumer, name: consumerLabel(consumer.name, labelKey) })),
    })),
  }));
}

export function maskBreakers(states: Record<string, string>, labelKey: string): Record<string, string> {
  return Object.fromEntries(Object.entries(states).map(([consumer, state]) => [consumerLabel(consumer, labelKey), state]));
}

/** The parts of an operations report that carry personal or host data. */
export interface MaskableReport {
  streams: StreamReport[];
  deadLetters: DeadLetterEntry[];
  breakers: Record<string, string>;
}

/** The report as anyone may see it; `labelKey` keys the consumer labels. */
export function maskReport<Report extends MaskableReport>(report: Report, labelKey: string): Report {
  return {
    ...report,
    streams: maskStreams(report.streams, labelKey),
    deadLetters: report.deadLetters.map((letter) => maskDeadLetter(letter, labelKey)),
    breakers: maskBreakers(report.breakers, labelKey),
  };
}
