/**
 * A process for tests/shared/delayed-retries.test.ts to SIGKILL in the middle of moving entries:
 * MODE=park parks, one call at a time, every entry pending for CONSUMER (due far in the future, so
 * they stay parked); MODE=release calls releaseDue with LIMIT until nothing is due. It runs until
 * it is done or killed; the test kills it part-way and checks that no entry was lost or doubled.
 */
import Redis from 'ioredis';
import { park, releaseDue } from '../../src/shared/streams/delayed-retries.ts';
import { fieldsToRecord } from '../../src/shared/streams/stream-id.ts';

const { REDIS_URL, STREAM, GROUP, CONSUMER, MODE, LIMIT } = Bun.env;
if (!REDIS_URL || !STREAM || !GROUP || !CONSUMER || !MODE) throw new Error('REDIS_URL, STREAM, GROUP, CONSUMER and MODE are required');

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });

if (MODE === 'park') {
  // History (id 0): this consumer's own pending entries, with their fields.
  const reply = (await redis.xreadgroup('GROUP', GROUP, CONSUMER, 'STREAMS', STREAM, '0')) as [string, [string, string[]][]][];
  const now = Date.now();
  for (const [id, flat] of reply[0]?.[1] ?? []) {
    await park(redis, {
      stream: STREAM,
      group: GROUP,
      consumer: CONSUMER,
      id,
      fields: fieldsToRecord(flat),
      attempt: 1,
      firstFailedAt: now,
      history: [{ at: now, reason: 'failed in the child' }],
      dueAt: now + 3_600_000,
    });
  }
} else if (MODE === 'release') {
  while ((await releaseDue(redis, { stream: STREAM, group: GROUP, limit: Number(LIMIT ?? 1) })).moved > 0);
} else {
  throw new Error(`MODE must be park or release, got ${MODE}`);
}
redis.disconnect();
