/**
 * How a setting's value may appear in a message. Start-up errors end up in terminals, CI logs and log
 * shippers, and a refused secret is usually the real one with a typo, so a secret is never printed and
 * a URL only with its password masked. Pure functions, no IO.
 */

const MASK = '***';
// Query parameters that carry credentials (`?password=`, `?sslpassword=`, `?access_token=`, `?api_key=`).
const SECRET_PARAM = /pass|secret|token|key|credential|auth/i;

/**
 * `value` as a URL with its password and credential-like query parameters replaced by `***`, or
 * undefined when it is not a URL with a host (then nothing of it is safe to show: `user:pass@host`
 * without a scheme parses as a URL whose scheme is the user name and whose path holds the password).
 */
export function urlWithoutPassword(value: string): string | undefined {
  const url = URL.parse(value);
  if (!url?.host) return undefined;
  if (url.password) url.password = MASK;
  for (const name of new Set(url.searchParams.keys())) {
    if (SECRET_PARAM.test(name)) url.searchParams.set(name, MASK);
  }
  return url.href;
}

/** What a setting holds, as far as printing it goes. */
export type SettingKind = 'secret' | 'url' | 'plain';

/**
 * `NAME="value"` for a message when the value is harmless; a URL with its password masked. For a
 * secret, the name alone. So for a URL setting whose value is not a URL with a host (a pasted password
 * is not), and for any value that may hold a password (it has `@` or `://`) but is not such a URL.
 */
export function settingInMessage(name: string, value: string | undefined, kind: SettingKind): string {
  if (value === undefined) return `${name} (unset)`;
  if (kind === 'secret') return `${name} (a secret, value not shown)`;
  if (kind === 'url' || value.includes('@') || value.includes('://')) {
    const url = urlWithoutPassword(value);
    return url === undefined ? `${name} (value not shown: it may hold a password)` : `${name}=${JSON.stringify(url)}`;
  }
  return `${name}=${JSON.stringify(value)}`;
}
