/**
 * An HTTP Retry-After header as milliseconds from `now`: delay-seconds or an HTTP-date (RFC 9110
 * 10.2.3). Undefined when absent or unreadable; a date in the past is 0.
 */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP-date names its day and month (`Fri, 04 Dec 2026 12:02:00 GMT`); Date.parse alone would take `-5` for a year.
  if (!/[A-Za-z]{3}/.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
