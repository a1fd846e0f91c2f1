/**
 * Stripe's search query language (docs.stripe.com/search#search-query-language), parsed:
 *   status:'succeeded' AND metadata['order_id']:'42' AND amount>=500 AND -currency:'eur'
 * Clauses are `field op value`, `-` negates one, and they are joined all by AND or all by OR
 * (Stripe refuses a mix). Strings are quoted ('…' or "…", `\` escapes); numbers are bare; `null` is bare.
 */
export type SearchOperator = ':' | '~' | '>' | '<' | '>=' | '<=';

export interface SearchClause {
  negated: boolean;
  field: string;
  /** The key of `metadata['key']`. */
  key?: string;
  operator: SearchOperator;
  value: string | number | null;
}

export interface SearchQuery {
  joiner: 'AND' | 'OR';
  clauses: SearchClause[];
}

export class SearchQueryError extends Error {}

const MAX_CLAUSES = 10;

export function parseSearchQuery(text: string): SearchQuery {
  let at = 0;
  const fail = (what: string): never => {
    throw new SearchQueryError(`We were unable to parse your search query: ${what} at position ${at}. Try using the format \`metadata['key']:'value'\` to query for metadata or \`key:'value'\` to query for other fields.`);
  };
  const skipSpaces = () => {
    while (text[at] === ' ' || text[at] === '\t') at++;
  };
  const quoted = (): string => {
    const quote = text[at++]!;
    let out = '';
    while (at < text.length && text[at] !== quote) {
      if (text[at] === '\\' && at + 1 < text.length) at++;
      out += text[at++];
    }
    if (text[at] !== quote) fail('an unterminated string');
    at++;
    return out;
  };

  const clause = (): SearchClause => {
    skipSpaces();
    const negated = text[at] === '-';
    if (negated) at++;
    const name = /^[a-z_]+/.exec(text.slice(at))?.[0] ?? fail('a field name was expected');
    at += name.length;
    let key: string | undefined;
    if (text[at] === '[') {
      at++;
      if (text[at] !== "'" && text[at] !== '"') fail('a quoted key was expected');
      key = quoted();
      if (text[at++] !== ']') fail("']' was expected");
    }
    const operator = (/^(>=|<=|:|~|>|<)/.exec(text.slice(at))?.[0] ?? fail('an operator (: ~ > < >= <=) was expected')) as SearchOperator;
    at += operator.length;
    let value: string | number | null;
    if (text[at] === "'" || text[at] === '"') value = quoted();
    else if (text.startsWith('null', at)) {
      value = null;
      at += 4;
    } else {
      const number = /^-?\d+(\.\d+)?/.exec(text.slice(at))?.[0] ?? fail('a quoted string, a number or null was expected');
      value = Number(number);
      at += number.length;
    }
    return { negated, field: name, ...(key === undefined ? {} : { key }), operator, value };
  };

  const clauses = [clause()];
  let joiner: 'AND' | 'OR' | undefined;
  for (;;) {
    skipSpaces();
    if (at >= text.length) break;
    const word = /^(AND|OR)(?= )/.exec(text.slice(at))?.[0] as 'AND' | 'OR' | undefined;
    if (!word) fail('AND or OR was expected');
    if (joiner && joiner !== word) fail('AND and OR cannot be used together in one query');
    joiner = word;
    at += word!.length;
    clauses.push(clause());
  }
  if (clauses.length > MAX_CLAUSES) throw new SearchQueryError(`A search query can have at most ${MAX_CLAUSES} clauses.`);
  return { joiner: joiner ?? 'AND', clauses };
}
