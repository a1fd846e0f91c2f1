/** Redis stream ids are `<ms>-<seq>`; compare them numerically, never as strings. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}

export function minStreamId(a: string, b: string): string {
  return compareStreamIds(a, b) <= 0 ? a : b;
}

/** The entry fields ioredis returns as [k1, v1, k2, v2, ...], as an object. */
export function fieldsToRecord(flat: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i]!] = flat[i + 1]!;
  return record;
}

/** An object as the flat [k1, v1, ...] list XADD takes. */
export function recordToFields(record: Record<string, string>): string[] {
  const flat: string[] = [];
  for (const [key, value] of Object.entries(record)) flat.push(key, value);
  return flat;
}
