/** Redis stream ids are `<ms>-<seq>`; compare them numerically, never as strings. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}

const MAX_ID_PART = 2n ** 64n - 1n;

/**
 * Whether Redis would take `id` as an explicit stream id: `<ms>-<seq>`, each a decimal that fits in
 * 64 bits unsigned. A longer one makes XRANGE fail with an error, not an empty answer.
 */
export function isStreamId(id: string): boolean {
  const match = /^(\d{1,20})-(\d{1,20})$/.exec(id);
  return match !== null && BigInt(match[1]!) <= MAX_ID_PART && BigInt(match[2]!) <= MAX_ID_PART;
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
