/**
 * Stripe's v1 parameter encoding: `application/x-www-form-urlencoded` (and the same in query strings
 * of GETs), nested with brackets as the SDKs write it: `metadata[order_id]=42`,
 * `payment_method_types[0]=card` (or `payment_method_types[]=card`), `automatic_payment_methods[enabled]=true`.
 * Every leaf stays a string: each endpoint decides what a value must be, as Stripe does.
 */
export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type FormParams = { [key: string]: FormValue };

export class FormSyntaxError extends Error {}

/** Decodes a form body or a query string (without its leading `?`) into nested params. */
export function parseForm(text: string): FormParams {
  const root = hash<Building | string>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const rawKey = equals === -1 ? pair : pair.slice(0, equals);
    const rawValue = equals === -1 ? '' : pair.slice(equals + 1);
    assign(root, keyPath(decode(rawKey)), decode(rawValue));
  }
  return arraysFromIndexes(root) as FormParams;
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch (error) {
    throw new FormSyntaxError(`Invalid percent-encoding in ${JSON.stringify(component)}`, { cause: error });
  }
}

/** `a[b][0]` -> ['a', 'b', '0']; `a[]` -> ['a', ''] (an append). */
function keyPath(key: string): string[] {
  const open = key.indexOf('[');
  if (open === -1) return [key];
  const path = [key.slice(0, open)];
  const rest = key.slice(open);
  const segment = /\[([^\]]*)\]/g;
  let consumed = 0;
  for (const match of rest.matchAll(segment)) {
    if (match.index !== consumed) break;
    path.push(match[1]!);
    consumed += match[0].length;
  }
  if (consumed !== rest.length || path[0] === '') throw new FormSyntaxError(`Invalid parameter name ${JSON.stringify(key)}`);
  return path;
}

type Building = { [key: string]: Building | string };

/**
 * Hashes without a prototype: a client's `__proto__[x]=1` or `constructor[x]=1` is then an ordinary
 * key, never a way into Object.prototype.
 */
const hash = <T>(): { [key: string]: T } => Object.create(null) as { [key: string]: T };

function assign(root: Building, path: string[], value: string): void {
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    // An empty segment (`a[]`) appends: it gets the next free index.
    const segment = path[i] === '' ? String(Object.keys(node).length) : path[i]!;
    const next = node[segment];
    if (typeof next === 'string') throw new FormSyntaxError(`Parameter ${path.slice(0, i + 1).join('.')} is given both as a value and as a hash`);
    node = node[segment] = next ?? hash<Building | string>();
  }
  const last = path[path.length - 1] === '' ? String(Object.keys(node).length) : path[path.length - 1]!;
  if (typeof node[last] === 'object') throw new FormSyntaxError(`Parameter ${path.join('.')} is given both as a value and as a hash`);
  node[last] = value;
}

/** A hash whose keys are exactly 0..n-1 was an array on the client's side. */
function arraysFromIndexes(node: Building | string): FormValue {
  if (typeof node === 'string') return node;
  const keys = Object.keys(node);
  const converted = hash<FormValue>();
  for (const key of keys) converted[key] = arraysFromIndexes(node[key]!);
  const isArray = keys.length > 0 && keys.every((key) => /^\d+$/.test(key)) && keys.map(Number).sort((a, b) => a - b).every((n, i) => n === i);
  return isArray ? keys.map(Number).sort((a, b) => a - b).map((n) => converted[String(n)]!) : converted;
}
