import { timingSafeEqual } from 'node:crypto';
import { Elysia } from 'elysia';
import { AdminDisabled, Unauthorized } from '../errors/domain.ts';

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The bearer token a request sent, or undefined. */
export function bearerToken(request: Request): string | undefined {
  const header = request.headers.get('authorization') ?? '';
  const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
  return token || undefined;
}

/** Whether a request carries the admin token (compared in constant time). */
export function isAdmin(request: Request, adminToken: string | undefined): boolean {
  const token = bearerToken(request);
  return Boolean(adminToken && token && sameToken(token, adminToken));
}

/**
 * Guards every route of the controller that uses it: 403 admin_disabled when the API runs without
 * ADMIN_TOKEN, 401 unauthorized without `Authorization: Bearer <ADMIN_TOKEN>`.
 */
export function adminAuth(adminToken: string | undefined) {
  return new Elysia({ name: 'admin-auth' }).onBeforeHandle({ as: 'scoped' }, ({ request }) => {
    if (!adminToken) throw new AdminDisabled();
    if (!isAdmin(request, adminToken)) throw new Unauthorized();
  });
}
