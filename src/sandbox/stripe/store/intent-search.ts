import { SearchQueryError, type SearchClause, type SearchQuery } from '../ledger/search-query.ts';
import type { Binding, Filter } from './select-page.ts';

/** The query fields Stripe offers for PaymentIntents, and what each may be compared with. */
const NUMERIC = new Set(['amount', 'created']);
const EXACT = new Set(['currency', 'customer', 'status']);

const SQL_OPERATOR = { ':': '=', '>': '>', '<': '<', '>=': '>=', '<=': '<=' } as const;

/** A parsed query as a condition on the payment_intents table. */
export function intentSearchFilter(query: SearchQuery): Filter {
  const params: Record<string, Binding> = {};
  const parts = query.clauses.map((clause, index) => clauseSql(clause, `q${index}`, params));
  return { sql: parts.join(` ${query.joiner} `), params };
}

function clauseSql(clause: SearchClause, name: string, params: Record<string, Binding>): string {
  const { field, operator, value, negated } = clause;
  const not = negated ? 'NOT ' : '';
  if (field === 'metadata') {
    if (clause.key === undefined) throw new SearchQueryError("metadata must be queried by key: metadata['key']:'value'.");
    if (operator !== ':') throw new SearchQueryError(`metadata supports only the ':' operator, not '${operator}'.`);
    params[`${name}_key`] = clause.key;
    // `metadata['key']:null` finds the intents without that key.
    if (value === null) return `${negated ? '' : 'NOT '}id IN (SELECT intent_id FROM payment_intent_metadata WHERE key = $${name}_key)`;
    params[`${name}_value`] = String(value);
    return `${not}id IN (SELECT intent_id FROM payment_intent_metadata WHERE key = $${name}_key AND value = $${name}_value)`;
  }
  if (clause.key !== undefined) throw new SearchQueryError(`${field} is not a hash field.`);
  if (NUMERIC.has(field)) {
    if (operator === '~') throw new SearchQueryError(`${field} does not support the '~' operator.`);
    const number = Number(value);
    if (value === null || !Number.isFinite(number)) throw new SearchQueryError(`${field} must be compared with a number.`);
    params[name] = number;
    return `${not}(${field} ${SQL_OPERATOR[operator]} $${name})`;
  }
  if (EXACT.has(field)) {
    if (operator !== ':') throw new SearchQueryError(`${field} supports only the ':' operator, not '${operator}'.`);
    if (typeof value !== 'string') throw new SearchQueryError(`${field} must be compared with a quoted string.`);
    params[name] = field === 'currency' ? value.toLowerCase() : value;
    return `${not}(${field} IS NOT NULL AND ${field} = $${name})`;
  }
  throw new SearchQueryError(`${field} is not a supported query field for payment intents (amount, created, currency, customer, metadata, status).`);
}
