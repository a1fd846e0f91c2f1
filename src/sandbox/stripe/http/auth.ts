import { invalidApiKey, liveKeyRefused, missingApiKey } from '../errors.ts';

/**
 * Accepts what Stripe accepts for a test-mode secret key: `Authorization: Bearer sk_test_…`, or
 * Basic auth with the key as the user name (`curl -u sk_test_…:`). Restricted test keys (rk_test_)
 * pass too. A live key is refused: the sandbox is test mode only.
 */
export function checkApiKey(authorization: string | null): void {
  if (!authorization) throw missingApiKey();
  const [scheme, credentials = ''] = authorization.trim().split(/\s+/, 2);
  let key: string;
  if (/^bearer$/i.test(scheme!)) key = credentials;
  else if (/^basic$/i.test(scheme!)) key = decodeBasicUser(credentials);
  else throw missingApiKey();
  if (/^(sk|rk)_live_/.test(key)) throw liveKeyRefused();
  if (!/^(sk|rk)_test_\S+$/.test(key)) throw invalidApiKey(key);
}

function decodeBasicUser(credentials: string): string {
  try {
    return atob(credentials).split(':')[0] ?? '';
  } catch {
    // Not base64: no key could be read from it, which is what the caller reports.
    return '';
  }
}
