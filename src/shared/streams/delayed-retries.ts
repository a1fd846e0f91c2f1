import { luaScript } from './lua-script.ts';
import type { Redis } from './redis.ts';
import { delayedRetryKeys } from './retry-keys.ts';
import { RETRY_FIELD_PREFIX, RETRY_FIELDS, retryFields, type RetryAttempt } from './retry-fields.ts';
import { recordToFields } from './stream-id.ts';

/**
 * A failed entry waits for its retry in Redis, not in a worker: park() takes it out of its group's
 * pending list into the group's delayed set (retry-keys.ts); releaseDue() puts it back on the stream
 * once due, with its retry fields (retry-fields.ts). Each is one Lua script, so a process killed at
 * any point leaves every entry in exactly one place: pending, waiting, or back on the stream. Scripts
 * run one at a time on a node, so replicas calling releaseDue together never move a member twice.
 *
 * A member is the entry's fields, retry fields included, as a JSON list of strings: exactly what
 * XADD takes back, so the script needs no knowledge of the fields. Due times are compared with
 * Redis's clock (TIME); `dueAt` comes from the parking process's, so clock skew between a worker and
 * Redis shifts a retry by that skew, no more.
 */

/**
 * KEYS: stream, due set, since set. ARGV: group, id, member, dueAt, firstFailedAt, consumer ('' = any).
 * Parks only an entry still pending (for `consumer`, when given): run twice, or after another
 * consumer acknowledged or claimed it, it does nothing. XPENDING first, so a vanished group is the
 * NOGROUP error the consumer already recovers from, not a silent 0.
 */
const PARK = luaScript(`
local row
if ARGV[6] == '' then
  row = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
else
  row = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[6])
end
if not row[1] then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])
return 1
`);

/**
 * KEYS: stream, due set, since set. ARGV: group, limit, now (ms; '' = Redis TIME).
 * Returns { moved, score of the next member or nil }. A member that does not decode as a list of
 * string pairs (a hand-edited set) still goes back, as `x-retry-unreadable`, which the consumer
 * dead-letters: left in place it would sit at the head of the set and stop every later release.
 * Each member's XADD and ZREMs come before the next member is read, so a script stopped by an error
 * part-way (Redis does not roll scripts back) has still moved every member it touched whole.
 * unpack() takes up to about 8000 values: entries of up to a few thousand fields.
 */
const RELEASE_DUE = luaScript(`
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local ok, fields = pcall(cjson.decode, member)
  local readable = ok and type(fields) == 'table' and #fields > 0 and #fields % 2 == 0
  if readable then
    for i = 1, #fields do
      if type(fields[i]) ~= 'string' then readable = false end
    end
  end
  if not readable then fields = { '${RETRY_FIELDS.group}', ARGV[1], '${RETRY_FIELDS.unreadable}', member } end
  redis.call('XADD', KEYS[1], '*', unpack(fields))
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZREM', KEYS[3], member)
end
local after = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return { #due, after[2] or false }
`);

export interface ParkInput {
  stream: string;
  group: string;
  /** When given, park only if the entry is still pending for this consumer (not claimed away meanwhile). */
  consumer?: string;
  /** The entry's id in the stream now. */
  id: string;
  /** The entry's own fields (any x-retry-* among them are dropped: the new ones replace them). */
  fields: Record<string, string>;
  /** Attempts failed so far, the one that just failed included. */
  attempt: number;
  firstFailedAt: number;
  /** The id the entry was first published under; `id` on its first failure. */
  originalId?: string;
  /** Every failed attempt so far, this one included. */
  history: RetryAttempt[];
  /** When it should come back, ms since the epoch. */
  dueAt: number;
}

/** Acknowledges the entry and puts it in its group's delayed set, atomically. False when it was no longer pending. */
export async function park(redis: Redis, input: ParkInput): Promise<boolean> {
  const { stream, group, id } = input;
  // Checked here: inside the script a bad score would fail after nothing was written, but with a Redis error that names no field.
  if (!Number.isInteger(input.attempt) || input.attempt < 1) throw new RangeError(`attempt must be a whole number from 1, got ${input.attempt}`);
  if (!Number.isFinite(input.dueAt) || !Number.isFinite(input.firstFailedAt)) throw new RangeError(`dueAt and firstFailedAt must be times, got ${input.dueAt} and ${input.firstFailedAt}`);
  const own: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.fields)) if (!name.startsWith(RETRY_FIELD_PREFIX)) own[name] = value;
  const retry = retryFields({ group, attempt: input.attempt, firstFailedAt: input.firstFailedAt, originalId: input.originalId ?? id, history: input.history });
  const member = JSON.stringify(recordToFields({ ...own, ...retry }));
  const keys = delayedRetryKeys(stream, group);
  const parked = await PARK.run(redis, [stream, keys.due, keys.since], [group, id, member, Math.round(input.dueAt), Math.round(input.firstFailedAt), input.consumer ?? '']);
  return Number(parked) === 1;
}

export interface ReleaseInput {
  stream: string;
  group: string;
  /** Most members moved by this call: one script holds the node while it runs. */
  limit: number;
  /** Overrides Redis's clock (ms since the epoch); leave it out outside tests. */
  now?: number;
}

/**
 * Moves up to `limit` due members back onto the stream (XADD with their retry fields), oldest due
 * first. Returns how many moved and when the next one left is due, so a caller can sleep until then.
 */
export async function releaseDue(redis: Redis, { stream, group, limit, now }: ReleaseInput): Promise<{ moved: number; nextDueAt: number | undefined }> {
  const keys = delayedRetryKeys(stream, group);
  const count = Math.max(1, Math.floor(limit));
  const [moved, next] = (await RELEASE_DUE.run(redis, [stream, keys.due, keys.since], [group, count, now === undefined ? '' : Math.floor(now)])) as [number, string | null];
  return { moved: Number(moved), nextDueAt: next === null ? undefined : Number(next) };
}

export interface RetryBacklog {
  waiting: number;
  /** When the next member is due, ms since the epoch. */
  nextDueAt: number | undefined;
  /** The earliest first failure among the waiting members. */
  oldestSince: number | undefined;
}

/** What /ops, /metrics and the CLI show per stream and group: three O(log n) reads in one MULTI. */
export async function retryBacklog(redis: Redis, { stream, group }: { stream: string; group: string }): Promise<RetryBacklog> {
  const keys = delayedRetryKeys(stream, group);
  const results = await redis.multi().zcard(keys.due).zrange(keys.due, 0, 0, 'WITHSCORES').zrange(keys.since, 0, 0, 'WITHSCORES').exec();
  const failed = results?.find(([error]) => error);
  if (!results || failed) throw failed?.[0] ?? new Error('retry backlog transaction was discarded');
  const [waiting, due, since] = results.map(([, value]) => value) as [number, string[], string[]];
  return {
    waiting: Number(waiting),
    nextDueAt: due[1] === undefined ? undefined : Number(due[1]),
    oldestSince: since[1] === undefined ? undefined : Number(since[1]),
  };
}
