import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { orderLabel } from '../../src/shared/ops/masking.ts';
import { streamKey, TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { deadLetter } from '../../src/shared/streams/dead-letter.ts';
import { BASE, createTestApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { SECRET_CONSUMER, SECRET_EMAIL, seedOpsState } from '../ops/ops-fixtures.ts';

allowSlowTests();

const TOKEN = 'ops-summary-admin-token-0123';
const redis = connectRedis();
const prefix = uniquePrefix('ops_summary');
let tdb: TestDatabase;
let seeded: Awaited<ReturnType<typeof seedOpsState>>;
// A second dead letter of the same order whose reason names it, as the workers' reasons do.
let missingLetterId: string;

beforeAll(async () => {
  tdb = await createTestDatabase('ops_summary');
  seeded = await seedOpsState(redis, prefix);
  const { stream, group, deadLetterStream } = TOPOLOGY.OrderPlaced;
  missingLetterId = await deadLetter(
    { redis, deadLetterStream: streamKey(prefix, deadLetterStream), maxLen: 1000 },
    {
      originalStream: streamKey(prefix, stream),
      originalId: '2-0',
      group,
      consumer: SECRET_CONSUMER,
      error: `order ${seeded.orderId} does not exist`,
      deliveries: 1,
      fields: seeded.fields,
    },
  );
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
  await tdb.drop();
});

const app = (env: Record<string, string> = { ADMIN_TOKEN: TOKEN }) => createTestApp(tdb.db, { env, ops: { redis, prefix } }).app;
const summary = async (theApp: ReturnType<typeof app>, token?: string) => {
  const res = await theApp.handle(new Request(`${BASE}/ops/summary`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }));
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, body: JSON.parse(text) };
};
const consumersOf = (body: any): string[] => body.streams.flatMap((s: any) => s.groups.flatMap((g: any) => g.consumers.map((c: any) => c.name)));

describe('GET /ops/summary without the admin token', () => {
  it('shows no customer address and no host name anywhere', async () => {
    for (const [theApp, token] of [[app(), undefined], [app(), 'a-wrong-token-of-some-length'], [app({}), undefined]] as const) {
      const { text, body } = await summary(theApp, token);
      expect(body.masked).toBe(true);
      expect(text).not.toContain(SECRET_EMAIL);
      expect(text).not.toContain('ada.lovelace');
      expect(text).not.toContain('db-host-17');
    }
  });

  it('shows no order id anywhere, only one stable label per order in its fields and reasons', async () => {
    for (const [theApp, token] of [[app(), undefined], [app(), 'a-wrong-token-of-some-length'], [app({}), undefined]] as const) {
      const { text, body } = await summary(theApp, token);
      // Neither the id nor any telling part of it: the label is not the id in another form.
      expect(text.toLowerCase()).not.toContain(seeded.orderId.toLowerCase());
      expect(text.toLowerCase()).not.toContain(seeded.orderId.replaceAll('-', '').toLowerCase());
      expect(text).not.toContain(seeded.orderId.slice(-12));
      const missing = body.deadLetters.find((l: { id: string }) => l.id === missingLetterId);
      const [label] = missing.fields.orderId.match(/^ord_[0-9a-f]{12}$/) ?? [];
      expect(label).toBeDefined();
      expect(missing.error).toBe(`order ${label} does not exist`);
      expect(body.deadLetters.find((l: { id: string }) => l.id === seeded.letterId).fields.orderId).toBe(label);
    }
    // With the admin token set, every API instance and every poll shows the same label.
    const first = (await summary(app())).body.deadLetters.find((l: { id: string }) => l.id === missingLetterId);
    const again = (await summary(app())).body.deadLetters.find((l: { id: string }) => l.id === missingLetterId);
    expect(again.fields.orderId).toBe(first.fields.orderId);
    expect(first.fields.orderId).toBe(orderLabel(seeded.orderId, TOKEN));
  });

  it('keeps counts, ids and reasons, with dead-letter fields reduced to the safe ones', async () => {
    const { body } = await summary(app());
    const letter = body.deadLetters.find((l: { id: string }) => l.id === seeded.letterId);
    expect(letter).toMatchObject({ originalId: '1-0', deliveries: 5, error: 'mail to a***@example.com bounced' });
    expect(letter.fields).toEqual({
      eventId: seeded.eventId,
      type: 'OrderPlaced',
      occurredAt: seeded.fields.occurredAt,
      requestId: '***',
      orderId: expect.stringMatching(/^ord_[0-9a-f]{12}$/),
      customerEmail: 'a***@example.com',
    });
    expect(body.deadLetterCounts.find((c: { stream: string }) => c.stream === 'payment.dlq').length).toBe(2);
  });

  it('names each consumer by one stable opaque label, the same in streams, dead letters and breakers', async () => {
    const first = (await summary(app())).body;
    const [label] = consumersOf(first);
    expect(label).toMatch(/^consumer-[0-9a-f]{10}$/);
    expect(first.deadLetters[0].consumer).toBe(label);
    expect(first.breakers).toEqual({ [label!]: 'open' });
    // Stable across polls, and across API instances that share the admin token.
    expect(consumersOf((await summary(app())).body)).toEqual([label!]);
  });
});

describe('GET /ops/summary with the admin token', () => {
  it('shows the full dead-letter bodies and the real consumer names', async () => {
    const { body } = await summary(app(), TOKEN);
    expect(body.masked).toBe(false);
    const letter = body.deadLetters.find((l: { id: string }) => l.id === seeded.letterId);
    expect(letter.fields).toEqual(seeded.fields);
    expect(letter.fields.customerEmail).toBe(SECRET_EMAIL);
    expect(letter.error).toBe(`mail to ${SECRET_EMAIL} bounced`);
    expect(letter.consumer).toBe(SECRET_CONSUMER);
    expect(body.deadLetters.find((l: { id: string }) => l.id === missingLetterId).error).toBe(`order ${seeded.orderId} does not exist`);
    expect(consumersOf(body)).toEqual([SECRET_CONSUMER]);
    expect(body.breakers).toEqual({ [SECRET_CONSUMER]: 'open' });
  });
});

