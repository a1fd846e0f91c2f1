import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
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

beforeAll(async () => {
  tdb = await createTestDatabase('ops_summary');
  seeded = await seedOpsState(redis, prefix);
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

  it('keeps counts, ids and reasons, with dead-letter fields reduced to the safe ones', async () => {
    const { body } = await summary(app());
    const letter = body.deadLetters.find((l: { id: string }) => l.id === seeded.letterId);
    expect(letter).toMatchObject({ originalId: '1-0', deliveries: 5, error: 'mail to a***@example.com bounced' });
    expect(letter.fields).toEqual({
      eventId: seeded.eventId,
      type: 'OrderPlaced',
      occurredAt: seeded.fields.occurredAt,
      requestId: '***',
      orderId: seeded.orderId,
      customerEmail: 'a***@example.com',
      totalCents: '***',
      items: '***',
    });
    expect(body.deadLetterCounts.find((c: { stream: string }) => c.stream === 'payment.dlq').length).toBe(1);
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
    expect(consumersOf(body)).toEqual([SECRET_CONSUMER]);
    expect(body.breakers).toEqual({ [SECRET_CONSUMER]: 'open' });
  });
});

