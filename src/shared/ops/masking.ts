import { createHmac } from 'node:crypto';
import type { DeadLetterEntry } from './dead-letters.ts';
import type { StreamReport } from './stream-report.ts';

/**
 * What the operations page may show to someone without the admin token: counts, stream ids, reasons and
 * masked values. Customer e-mail addresses, order contents, order ids (an id is the key to
 * `GET /orders/{id}`) and host names (consumer names default to `<hostname>-<pid>`) are personal or
 * reconnaissance data. Pure functions, no IO.
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

const UUID_SOURCE = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const UUID = new RegExp(`^${UUID_SOURCE}$`, 'i');
// No word boundaries: an id glued to other characters is still an id.
const UUID_IN_TEXT = new RegExp(UUID_SOURCE, 'gi');

/**
 * A stable opaque label for an order id, `ord_` and 12 hex digits of an HMAC keyed by `key`: the same
 * order shows the same label in every field, every reason and on every poll, so an operator can follow
 * it, but it cannot be turned back into the id (which would open `GET /orders/{id}`) without `key`.
 * Case-insensitive, as PostgreSQL reads UUIDs.
 */
export function orderLabel(orderId: string, key: string): string {
  // The `order:` domain keeps these from ever equalling a consumer label under the same key.
  return `ord_${createHmac('sha256', key).update(`order:${orderId.toLowerCase()}`).digest('hex').slice(0, 12)}`;
}

/**
 * Free text (a dead letter's reason) with every UUID replaced by its order label: the only UUIDs our
 * reasons carry are order ids (`order <id> does not exist`, a PostgreSQL key detail), and a reason
 * must not hand out an id the fields hide.
 */
export function maskOrderIdsIn(text: string, key: string): string {
  return text.replace(UUID_IN_TEXT, (id) => orderLabel(id, key));
}

// Fields an entry is traced by, shown only when they look like what we write there, so a malformed
// entry cannot smuggle an address through a "safe" field. The event id is shown as it is (nothing
// is looked up by it); the order id only as its label.
const SAFE_FIELDS: Record<string, { pattern: RegExp; show: (value: string, key: string) => string }> = {
  eventId: { pattern: UUID, show: (value) => value },
  orderId: { pattern: UUID, show: orderLabel },
  type: { pattern: /^[A-Za-z]{1,64}$/, show: (value) => value },
  occurredAt: { pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, show: (value) => value },
};
const PLAIN_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * A dead letter's original fields reduced to the safe ones: event id, type and time as they are, the
 * order id as its label (keyed by `labelKey`), an e-mail masked, everything else (amounts, items,
 * request ids, whatever a malformed entry carried) replaced by `***`. Field names that are not plain
 * identifiers are renamed, since the name itself could be data.
 */
export function maskFields(fields: Record<string, string>, labelKey: string): Record<string, string> {
  const masked: Record<string, string> = {};
  let odd = 0;
  for (const [name, value] of Object.entries(fields)) {
    const shownName = PLAIN_NAME.test(name) ? name : `(field ${++odd})`;
    const safe = Object.hasOwn(SAFE_FIELDS, name) ? SAFE_FIELDS[name] : undefined;
    if (safe?.pattern.test(value)) masked[shownName] = safe.show(value, labelKey);
    else masked[shownName] = /email/i.test(name) ? maskEmail(value) : MASK;
  }
  return masked;
}

export function maskDeadLetter(letter: DeadLetterEntry, labelKey: string): DeadLetterEntry {
  return {
    ...letter,
    consumer: consumerLabel(letter.consumer, labelKey),
    error: maskEmailsIn(maskOrderIdsIn(letter.error, labelKey)),
    fields: maskFields(letter.fields, labelKey),
    // Each attempt's reason is the same kind of text as `error`, masked the same way.
    ...(letter.attempts ? { attempts: letter.attempts.map((attempt) => ({ ...attempt, reason: maskEmailsIn(maskOrderIdsIn(attempt.reason, labelKey)) })) } : {}),
  };
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

/** The report as anyone may see it; `labelKey` keys the consumer and order labels. */
export function maskReport<Report extends MaskableReport>(report: Report, labelKey: string): Report {
  return {
    ...report,
    streams: maskStreams(report.streams, labelKey),
    deadLetters: report.deadLetters.map((letter) => maskDeadLetter(letter, labelKey)),
    breakers: maskBreakers(report.breakers, labelKey),
  };
}
