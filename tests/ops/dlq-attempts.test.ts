import { describe, expect, it } from 'bun:test';
import { consumerLabel, maskDeadLetter, orderLabel } from '../../src/shared/ops/masking.ts';
import { streamKey, TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { deadLetter, readDeadLetter } from '../../src/shared/streams/dead-letter.ts';
import { recordToFields } from '../../src/shared/streams/stream-id.ts';
import { runCli } from '../helpers/cli.ts';
import { consumerHarness } from '../helpers/consumer-harness.ts';
import { TEST_SERVER_URL } from '../helpers/db.ts';
import { TEST_REDIS_URL } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

/**
 * `bun run dlq` and the attempt history: an entry whose retry schedule is spent is dead-lettered with
 * each failed attempt as a list (`attempts`), which the CLI prints one line an attempt and puts in its
 * JSON; a dead letter written before that field existed still reads, without it.
 */
const harness = consumerHarness('dlq-attempts');
const { prefix, admin } = harness;
const paymentDlq = streamKey(prefix, TOPOLOGY.OrderPlaced.deadLetterStream);

const cli = (args: string[]) => runCli(args, { DATABASE_URL: TEST_SERVER_URL, REDIS_URL: TEST_REDIS_URL, STREAM_PREFIX: prefix });

/** A dead letter exactly as they were written before `attempts`: the reasons only in `error`. */
async function oldStyleLetter(): Promise<string> {
  return (await admin.xadd(
    paymentDlq,
    '*',
    ...recordToFields({
      originalStream: streamKey(prefix, TOPOLOGY.OrderPlaced.stream),
      originalId: '1700000000000-0',
      group: TOPOLOGY.OrderPlaced.group,
      consumer: 'payment-old',
      error: 'failed 2 attempts, the retry schedule is spent: attempt 1 at 2023-11-14T22:13:20.000Z: 503; attempt 2 at 2023-11-14T22:13:21.000Z: 503',
      deliveries: '1',
      deadLetteredAt: '2023-11-14T22:13:21.500Z',
      fields: JSON.stringify({ orderId: 'old-order' }),
    }),
  )) as string;
}

describe('bun run dlq with an entry whose retry schedule was spent', () => {
  it('prints one line per failed attempt, puts them in --json and show, and still reads a dead letter from before', async () => {
    const oldId = await oldStyleLetter();
    // The payment group's stream and dead-letter stream under this file's prefix, as the worker names them.
    harness.start<{ orderId: string }>({
      stream: streamKey(prefix, TOPOLOGY.OrderPlaced.stream),
      group: TOPOLOGY.OrderPlaced.group,
      consumerName: 'payment-dlq-attempts',
      deadLetterStream: paymentDlq,
      deadLetterMaxLen: 1000,
      decode: (fields) => ({ orderId: fields.orderId ?? '' }),
      handle: async (_, meta) => {
        throw new Error(`issuer timed out (attempt ${meta.attempt ?? 1})`);
      },
      concurrency: 1,
      batchSize: 1,
      blockMs: 100,
      claimIdleMs: 5000,
      maxDeliveries: 3,
      retrySchedule: [50, 50],
      retryPollMs: 20,
    });
    await admin.xadd(streamKey(prefix, TOPOLOGY.OrderPlaced.stream), '*', 'orderId', 'spent-order');
    const newId = await waitFor(async () => {
      const entries = (await admin.xrange(paymentDlq, '-', '+')) as [string, string[]][];
      return entries.find(([, flat]) => readDeadLetter(flat).fields.orderId === 'spent-order')?.[0];
    }, { what: 'the entry to be dead-lettered at the end of its schedule' });

    const list = await cli(['dlq', 'list']);
    expect(list.code).toBe(0);
    const lines = list.stdout.split('\n');
    const at = lines.findIndex((line) => line.startsWith(newId));
    expect(at).toBeGreaterThanOrEqual(0);
    // The header, the reason, then the three attempts, each with its number, time and reason.
    expect(lines[at + 1]).toContain('failed 3 attempts, the retry schedule is spent');
    for (let i = 1; i <= 3; i++) {
      expect(lines[at + 1 + i]).toMatch(new RegExp(`^    attempt ${i}  \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z  Error: issuer timed out \\(attempt ${i}\\)$`));
    }
    // The old letter: its header and its reason, and no attempt lines.
    const old = lines.findIndex((line) => line.startsWith(oldId));
    expect(lines[old + 1]).toContain('failed 2 attempts');
    expect(lines[old + 2] ?? '').not.toMatch(/^\s+attempt /);

    const json = await cli(['dlq', 'list', '--json']);
    expect(json.code).toBe(0);
    const entries = JSON.parse(json.stdout) as { id: string; attempts?: { attempt: number; at: string; reason: string }[] }[];
    const spent = entries.find((entry) => entry.id === newId)!;
    expect(spent.attempts?.map(({ attempt, reason }) => ({ attempt, reason }))).toEqual([1, 2, 3].map((i) => ({ attempt: i, reason: `Error: issuer timed out (attempt ${i})` })));
    expect(spent.attempts!.every(({ at }) => new Date(at).toISOString() === at)).toBe(true);
    expect(entries.find((entry) => entry.id === oldId)).not.toHaveProperty('attempts');

    const show = await cli(['dlq', 'show', newId]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout).attempts).toEqual(spent.attempts);
  });
});

describe('a dead letter with attempts', () => {
  it('writes them as a field of their own and reads them back; a field that is not a list of attempts reads as none', async () => {
    const target = { redis: admin, deadLetterStream: `${prefix}roundtrip.dlq`, maxLen: 100 };
    const stream = `${prefix}roundtrip`;
    await admin.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    const letter = { originalStream: stream, originalId: '1-0', group: 'g', consumer: 'c', error: 'spent', deliveries: 1, fields: { n: '1' } };
    const attempts = [
      { attempt: 1, at: '2026-11-25T12:00:00.000Z', reason: '503' },
      { attempt: 2, at: '2026-11-25T12:00:01.000Z', reason: '429' },
    ];
    const withAttempts = await deadLetter(target, { ...letter, attempts });
    const without = await deadLetter(target, letter);
    const read = async (id: string) => readDeadLetter(((await admin.xrange(target.deadLetterStream, id, id)) as [string, string[]][])[0]![1]);
    expect((await read(withAttempts)).attempts).toEqual(attempts);
    expect(await read(without)).not.toHaveProperty('attempts');

    const handEdited = (await admin.xadd(target.deadLetterStream, '*', ...recordToFields({ ...letter, deliveries: '1', fields: '{}', attempts: '[{"attempt":"one"}]' }))) as string;
    expect(await read(handEdited)).not.toHaveProperty('attempts');
  });

  it('masks order ids and addresses in each attempt’s reason on the operations page, as in its error', () => {
    const orderId = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
    const letter = {
      id: '1795614405774-3',
      deadLetterStream: 'notify.dlq',
      partition: null,
      deadLetteredAt: '2026-11-25T12:00:00.000Z',
      originalStream: 'payment.completed',
      originalId: '1795614405000-0',
      group: 'notify-email',
      consumer: 'vm-9985-4242',
      error: 'spent',
      deliveries: 1,
      fields: {},
      attempts: [{ attempt: 1, at: '2026-11-25T11:59:00.000Z', reason: `451 greylisted: ada@example.com for order ${orderId}` }],
    };
    expect(maskDeadLetter(letter, 'key-1')).toMatchObject({
      consumer: consumerLabel('vm-9985-4242', 'key-1'),
      attempts: [{ attempt: 1, at: '2026-11-25T11:59:00.000Z', reason: `451 greylisted: a***@example.com for order ${orderLabel(orderId, 'key-1')}` }],
    });
  });
});
