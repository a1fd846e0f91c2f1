import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivatePostgres, stopPrivate, type PrivateService } from '../../scripts/lib/private-services.ts';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { get, readJson } from '../helpers/app.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { healthPort, killAll, spawnService } from '../helpers/processes.ts';
import { freePort } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

// A PostgreSQL of this test's own (initdb under a temp dir), so it can be stopped without touching anyone else's.
const dataDir = mkdtempSync(join(tmpdir(), 'orders-pg-outage-'));
chmodSync(dataDir, 0o755);
let serverUrl: string;
let postgres: PrivateService;
let pipeline: Pipeline;

async function startPostgres() {
  const started = await startPrivatePostgres(serverUrl, dataDir);
  if (typeof started === 'string') throw new Error(`cannot start a private PostgreSQL: ${started}`);
  postgres = started;
}

beforeAll(async () => {
  serverUrl = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
  await startPostgres();
  pipeline = await createPipeline('pg_outage', { databaseServerUrl: serverUrl });
});
afterAll(async () => {
  await killAll();
  await pipeline?.close().catch(() => {});
  if (postgres) await stopPrivate([postgres]);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('PostgreSQL going away', () => {
  it('leaves the entry pending, never dead-letters it, and the order is paid once PostgreSQL is back', async () => {
    // Short claim and delivery limits: an outage counted as failures would dead-letter the entry at once.
    const env = pipeline.env({ CONSUMER_NAME: 'payment-pg', CLAIM_IDLE_MS: '300', MAX_DELIVERIES: '2' });
    const { id } = await pipeline.placeOrder('pg-outage@example.com');
    await pipeline.relay.kick();
    await waitFor(async () => (await pipeline.admin.xlen(pipeline.key(TOPOLOGY.OrderPlaced.stream))) === 1, { what: 'the order on its stream' });

    await stopPrivate([postgres]);
    const payment = spawnService('payment', env);
    const port = await healthPort(payment);
    await payment.waitForLine((l) => l.msg === 'dependency unavailable; pausing, the entry stays pending', 'the handler to meet the outage');
    const health = await readJson(await fetch(`http://127.0.0.1:${port}/health`));
    expect(health.checks.postgres).toBe('error');
    expect(health.consumer.pausedBecause).toBe('dependency unavailable');
    // The API answers 503, not 500, while its database is away.
    expect((await pipeline.app.handle(get('/menu'))).status).toBe(503);

    // Well past CLAIM_IDLE_MS (the entry idle three times over) and MAX_DELIVERIES: still pending, nothing dead-lettered.
    await waitFor(async () => {
      const [oldest] = (await pipeline.admin.xpending(pipeline.key(TOPOLOGY.OrderPlaced.stream), TOPOLOGY.OrderPlaced.group, '-', '+', 1)) as [string, string, number, number][];
      return oldest !== undefined && Number(oldest[2]) > 900;
    }, { what: 'the pending entry to sit idle past three claim intervals' });
    expect(await pipeline.pending(TOPOLOGY.OrderPlaced.stream, TOPOLOGY.OrderPlaced.group)).toBe(1);
    expect(await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).toEqual([]);

    await startPostgres();
    spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-pg' }));
    await pipeline.waitUntilSettled([id], 30_000);
    expect(await pipeline.orderState(id)).toEqual({ status: 'paid', charges: 1, attempts: 1, notifications: 1 });
    expect(await pipeline.deadLetters(TOPOLOGY.OrderPlaced.deadLetterStream)).toEqual([]);
    await payment.waitForLine((l) => l.msg === 'dependency is back; resuming', 'the worker to resume');
  });

  it('does not stall when Redis loses the stream and group while an entry waits for PostgreSQL: the group is recreated and new orders are paid', async () => {
    // A pipeline of its own: a fresh database and stream prefix, so the worker above takes none of this.
    const wiped = await createPipeline('pg_wipe', { databaseServerUrl: serverUrl });
    try {
      const stream = wiped.key(TOPOLOGY.OrderPlaced.stream);
      const { id: lost } = await wiped.placeOrder('wiped-before@example.com');
      await wiped.relay.kick();
      await waitFor(async () => (await wiped.admin.xlen(stream)) === 1, { what: 'the order on its stream' });

      await stopPrivate([postgres]);
      const payment = spawnService('payment', wiped.env({ CONSUMER_NAME: 'payment-wipe', CLAIM_IDLE_MS: '300' }));
      await payment.waitForLine((l) => l.msg === 'dependency unavailable; pausing, the entry stays pending', 'the entry to wait for PostgreSQL');
      // Redis forgets everything of this deployment: the stream, its group, the pending entry.
      await wiped.admin.del(stream);
      await startPostgres();
      spawnService('notify', wiped.env({ CONSUMER_NAME: 'notify-wipe' }));

      const { id } = await wiped.placeOrder('wiped-after@example.com');
      await wiped.relay.kick();
      await wiped.waitUntilSettled([id], 30_000);
      expect(await wiped.orderState(id)).toEqual({ status: 'paid', charges: 1, attempts: 1, notifications: 1 });
      // Recreated once, not once per spin of the loop.
      expect(payment.lines.filter((l) => l.msg === 'consumer group is gone; recreating it').length).toBeLessThanOrEqual(2);
      // The entry lost with Redis is the reconciler's to re-emit (it works from PostgreSQL): still processing here.
      expect((await wiped.orderState(lost)).status).toBe('processing');
    } finally {
      await wiped.close();
    }
  });
});
