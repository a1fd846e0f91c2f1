import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { sql } from 'drizzle-orm';
import { Events } from '../../src/shared/pipeline/events.ts';
import { orderPlacedEvent } from '../../src/shared/pipeline/order-events.ts';
import { claimStatements } from '../../src/shared/pipeline/outbox-claim.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

let tdb: TestDatabase;

const PUBLISHED = 3_000;
const WAITING = 20;

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

/** EXPLAIN (ANALYZE, BUFFERS) of the relay's claim, run as the relay runs it, then rolled back. */
async function explainClaim(): Promise<PlanNode[]> {
  const { settings, claim } = claimStatements(500);
  let plan: PlanNode | undefined;
  await tdb.db
    .transaction(async (tx) => {
      await tx.execute(settings);
      const [row] = await tx.execute<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(sql`explain (analyze, buffers, format json) ${claim}`);
      plan = row!['QUERY PLAN'][0].Plan;
      tx.rollback();
    })
    .catch(() => {});
  return nodesOf(plan!);
}

const outboxScans = (nodes: PlanNode[]) => nodes.filter((node) => node['Relation Name'] === 'outbox' && /Scan/.test(node['Node Type']));

beforeAll(async () => {
  tdb = await createTestDatabase('outbox_claim');
  const event = JSON.stringify(orderPlacedEvent({ id: Bun.randomUUIDv7(), requestId: 'req-1' }));
  const addRows = (n: number) =>
    tdb.db.execute(sql`
      insert into outbox (event_id, event_type, stream, order_id, event)
      select gen_random_uuid(), ${Events.orderPlaced.type}, ${Events.orderPlaced.stream}, gen_random_uuid(), ${event}::jsonb from generate_series(1, ${n})`);
  // A young table, as after a minute of traffic: thousands of rows published (their entries in
  // outbox_unpublished_idx now point at dead row versions), a few waiting, no vacuum yet.
  await addRows(PUBLISHED);
  await tdb.db.execute(sql`update outbox set published_at = now()`);
  await addRows(WAITING);
});
afterAll(() => tdb.drop());

describe("the outbox relay's claim", () => {
  it('reads outbox_unpublished_idx with a plain index scan on a fresh, unanalyzed table, never a bitmap or sequential scan', async () => {
    const nodes = await explainClaim();
    const claimScan = outboxScans(nodes).find((node) => node['Index Name'] === 'outbox_unpublished_idx');
    expect(claimScan?.['Node Type']).toBe('Index Scan');
    expect(nodes.map((node) => node['Node Type'])).not.toContain('Bitmap Heap Scan');
    expect(nodes.map((node) => node['Node Type'])).not.toContain('Seq Scan');
    expect(claimScan?.['Actual Rows']).toBe(WAITING);
  });

  it('steps over entries of published rows once: a later claim no longer visits them', async () => {
    const blocks = (nodes: PlanNode[]) => {
      const scan = outboxScans(nodes).find((node) => node['Index Name'] === 'outbox_unpublished_idx')!;
      return (scan['Shared Hit Blocks'] ?? 0) + (scan['Shared Read Blocks'] ?? 0);
    };
    // The first claim to pass them (here, or the previous test's) fetched each published row's dead
    // version and marked its index entry dead; from then on a claim reads index pages only: about a
    // page per few hundred entries, where a bitmap scan re-reads every row's table page each time.
    await explainClaim();
    const later = blocks(await explainClaim());
    expect(later).toBeLessThan(PUBLISHED / 100);
  });

  it('keeps the index scan once the table is analyzed, whatever the statistics say', async () => {
    await tdb.db.execute(sql`analyze outbox`);
    const nodes = await explainClaim();
    expect(outboxScans(nodes).find((node) => node['Index Name'] === 'outbox_unpublished_idx')?.['Node Type']).toBe('Index Scan');
    expect(nodes.map((node) => node['Node Type'])).not.toContain('Bitmap Heap Scan');
  });
});
