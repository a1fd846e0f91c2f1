/**
 * Where a stream's delayed retries wait: two sorted sets beside the stream, one per consumer group
 * (each group retries on its own schedule), in the stream's Redis Cluster slot, so one script can
 * move an entry between the stream and the sets atomically.
 *
 * Redis Cluster hashes only a key's hash tag when it has one: the text inside the first `{`, up to
 * the first `}` after it, if that text is not empty. A partitioned stream key (`orders.placed:{3}`,
 * pipeline/topology.ts) has one, and a suffix keeps it. A stream key without one is hashed whole,
 * so wrapping it in braces, `{orders.placed}:retry:…`, hashes to the same slot; that needs a stream
 * key without a `}` of its own (any other key works on a single Redis, not on a cluster).
 */

/** The part of `key` Redis Cluster hashes: its hash tag, or the whole key. */
export function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

export interface DelayedRetryKeys {
  /** Members scored by when they are due (ms since the epoch). */
  due: string;
  /** The same members scored by their first failure, so the oldest is one ZRANGE away. */
  since: string;
}

export function delayedRetryKeys(stream: string, group: string): DelayedRetryKeys {
  const base = hashedPart(stream) !== stream || stream.includes('}') ? stream : `{${stream}}`;
  const due = `${base}:retry:${group}`;
  return { due, since: `${due}:since` };
}
