import { parameterInvalid, parameterUnknown } from '../errors.ts';
import type { FormParams, FormValue } from '../form.ts';

/**
 * Readers for form parameters, each answering Stripe's 400 for a value of the wrong kind.
 * An empty string means "not given", as in Stripe's API (the SDK sends `null` as `key=`).
 */

/** Refuses any parameter not in `allowed` (Stripe's parameter_unknown), so a client's typo fails here as it would there. */
export function onlyKnown(params: FormParams, allowed: readonly string[], prefix = ''): void {
  for (const name of Object.keys(params)) {
    if (!allowed.includes(name)) throw parameterUnknown(prefix ? `${prefix}[${name}]` : name);
  }
}

const given = (value: FormValue | undefined): value is FormValue => value !== undefined && value !== '';

export function readString(params: FormParams, name: string, maxLength = 5000): string | null {
  const value = params[name];
  if (!given(value)) return null;
  if (typeof value !== 'string') throw parameterInvalid(name, `Invalid string: ${JSON.stringify(value)}`);
  if (value.length > maxLength) throw parameterInvalid(name, `Invalid string: ${value.slice(0, 20)}...; must be at most ${maxLength} characters`);
  return value;
}

export function readInteger(params: FormParams, name: string): number | null {
  const value = params[name];
  if (!given(value)) return null;
  if (typeof value !== 'string' || !/^-?\d{1,15}$/.test(value)) throw parameterInvalid(name, `Invalid integer: ${typeof value === 'string' ? value : JSON.stringify(value)}`, 'parameter_invalid_integer');
  return Number(value);
}

export function readBoolean(params: FormParams, name: string): boolean | null {
  const value = params[name];
  if (!given(value)) return null;
  if (value !== 'true' && value !== 'false') throw parameterInvalid(name, `Invalid boolean: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return value === 'true';
}

export function readEnum<T extends string>(params: FormParams, name: string, values: readonly T[]): T | null {
  const value = readString(params, name);
  if (value === null) return null;
  if (!values.includes(value as T)) throw parameterInvalid(name, `Invalid ${name}: must be one of ${values.join(', ')}`, 'parameter_invalid_string');
  return value as T;
}

export function readHash(params: FormParams, name: string): FormParams | null {
  const value = params[name];
  if (!given(value)) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw parameterInvalid(name, `Invalid hash: ${name} must be a hash`, 'parameter_invalid_hash');
  return value;
}

export function readStringArray(params: FormParams, name: string): string[] | null {
  const value = params[name];
  if (!given(value)) return null;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw parameterInvalid(name, `Invalid array: ${name} must be an array of strings`, 'parameter_invalid_array');
  return value as string[];
}

/** Stripe's metadata rules: up to 50 keys, keys up to 40 characters without brackets, values up to 500. */
export function readMetadata(params: FormParams): Record<string, string> {
  const hash = readHash(params, 'metadata') ?? {};
  const metadata: [string, string][] = [];
  const keys = Object.keys(hash);
  if (keys.length > 50) throw parameterInvalid('metadata', 'Invalid metadata: must have at most 50 keys');
  for (const key of keys) {
    const value = hash[key];
    if (typeof value !== 'string') throw parameterInvalid(`metadata[${key}]`, `Invalid string: metadata values must be strings`);
    if (key.length > 40) throw parameterInvalid('metadata', `Invalid metadata: keys must be at most 40 characters (${key})`);
    if (value.length > 500) throw parameterInvalid(`metadata[${key}]`, 'Invalid metadata: values must be at most 500 characters');
    // An empty value unsets the key.
    if (value !== '') metadata.push([key, value]);
  }
  // fromEntries makes own properties whatever the key, `__proto__` included.
  return Object.fromEntries(metadata);
}
