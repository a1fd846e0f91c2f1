import type { Database } from 'bun:sqlite';

/** A value bound to a named SQL parameter. */
export type Binding = string | number | bigint | boolean | null;

/** A condition on a paged table: SQL over its columns, with named parameters. */
export interface Filter {
  sql: string;
  params: Record<string, Binding>;
}

export interface PageRequest {
  limit: number;
  /** Only rows older than this one (Stripe's `starting_after`, as the row's seq). */
  beforeSeq?: number;
  /** Only rows newer than this one (Stripe's `ending_before`). */
  afterSeq?: number;
}

export interface Page {
  /** Newest first, as Stripe lists. */
  rows: { seq: number; body: string }[];
  hasMore: boolean;
}

/**
 * One page of a table kept in insertion order (`seq`), newest first. An `ending_before` page is the
 * `limit` rows just newer than the cursor, still answered newest first, as Stripe does; the SDK's
 * auto-pagination walks it backwards.
 */
export function selectPage(db: Database, table: 'payment_intents' | 'events', filters: Filter[], page: PageRequest): Page {
  const conditions = filters.map((filter) => `(${filter.sql})`);
  const params: Record<string, Binding> = Object.assign({}, ...filters.map((filter) => filter.params));
  const backwards = page.afterSeq !== undefined;
  if (page.beforeSeq !== undefined) {
    conditions.push('seq < $page_before');
    params.page_before = page.beforeSeq;
  }
  if (backwards) {
    conditions.push('seq > $page_after');
    params.page_after = page.afterSeq!;
  }
  params.page_limit = page.limit + 1;
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const rows = db.query<{ seq: number; body: string }, Record<string, Binding>>(`SELECT seq, body FROM ${table} ${where} ORDER BY seq ${backwards ? 'ASC' : 'DESC'} LIMIT $page_limit`).all(params);
  const hasMore = rows.length > page.limit;
  const kept = rows.slice(0, page.limit);
  return { rows: backwards ? kept.reverse() : kept, hasMore };
}
