import { parameterInvalid, parameterUnknown, resourceMissing } from '../errors.ts';
import type { FormParams } from '../form.ts';
import type { Binding, Filter, Page, PageRequest } from '../store/select-page.ts';
import { readInteger, readString } from './params.ts';

/** `limit` (1..100, default 10) as every Stripe list and search takes it. */
export function readLimit(params: FormParams): number {
  const limit = readInteger(params, 'limit') ?? 10;
  if (limit < 1 || limit > 100) throw parameterInvalid('limit', `Invalid limit: must be between 1 and 100`, 'parameter_invalid_integer');
  return limit;
}

/** A list's cursor (`starting_after` or `ending_before`, an object id) as a position in its table. */
export function readListPage(params: FormParams, what: string, seqOf: (id: string) => number | undefined): PageRequest {
  const limit = readLimit(params);
  const startingAfter = readString(params, 'starting_after');
  const endingBefore = readString(params, 'ending_before');
  if (startingAfter && endingBefore) throw parameterInvalid('ending_before', 'You may only specify one of these parameters: ending_before, starting_after.');
  const seq = (id: string, param: string) => {
    const found = seqOf(id);
    if (found === undefined) throw resourceMissing(what, id, param);
    return found;
  };
  if (startingAfter) return { limit, beforeSeq: seq(startingAfter, 'starting_after') };
  if (endingBefore) return { limit, afterSeq: seq(endingBefore, 'ending_before') };
  return { limit };
}

export function listObject<T>(url: string, page: Page, read: (body: string) => T) {
  return { object: 'list' as const, data: page.rows.map((row) => read(row.body)), has_more: page.hasMore, url };
}

/** A search's `page` cursor: opaque to the client, a position in the table to us. */
export function readSearchPage(params: FormParams): PageRequest {
  const limit = readLimit(params);
  const cursor = readString(params, 'page');
  if (!cursor) return { limit };
  const seq = Number(Buffer.from(cursor, 'base64url').toString('utf8').replace(/^seq:/, ''));
  if (!Number.isInteger(seq)) throw parameterInvalid('page', `Invalid page: ${cursor}`);
  return { limit, beforeSeq: seq };
}

export function searchResultObject<T>(url: string, page: Page, read: (body: string) => T) {
  const last = page.rows[page.rows.length - 1];
  return {
    object: 'search_result' as const,
    data: page.rows.map((row) => read(row.body)),
    has_more: page.hasMore,
    next_page: page.hasMore && last ? Buffer.from(`seq:${last.seq}`).toString('base64url') : null,
    url,
  };
}

/** `created` as Stripe's lists take it: a timestamp, or a hash of gt/gte/lt/lte bounds. */
export function readCreatedFilter(params: FormParams): Filter | null {
  const value = params.created;
  if (value === undefined || value === '') return null;
  if (typeof value === 'string') return { sql: 'created = $created_eq', params: { created_eq: readInteger(params, 'created')! } };
  if (Array.isArray(value)) throw parameterInvalid('created', 'Invalid created: must be an integer or a hash');
  const ops = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
  const parts: string[] = [];
  const bound: Record<string, Binding> = {};
  for (const name of Object.keys(value)) {
    if (!Object.hasOwn(ops, name)) throw parameterUnknown(`created[${name}]`);
    const limit = readInteger(value, name);
    if (limit === null) continue;
    parts.push(`created ${ops[name as keyof typeof ops]} $created_${name}`);
    bound[`created_${name}`] = limit;
  }
  return parts.length > 0 ? { sql: parts.join(' AND '), params: bound } : null;
}
