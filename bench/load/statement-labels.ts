/**
 * A short name for a statement of the profile (`bun run bench --only pg`), by the process that ran it and
 * the start of its text; anything not named here shows as its first words.
 */
const LABELS: readonly { process?: string; pattern: RegExp; label: string }[] = [
  { process: 'api', pattern: /^\s*with lines as/, label: 'order write: price, order, items, outbox row (one statement)' },
  { pattern: /^\s*update "outbox" set published_at/, label: 'outbox relay: claim and mark published' },
  { pattern: /^\s*select set_config\(/, label: "outbox relay: the claim's planner settings" },
  { pattern: /^\s*begin\b/i, label: 'BEGIN' },
  { pattern: /^\s*commit\b/i, label: 'COMMIT' },
  { pattern: /^\s*delete from "outbox"/, label: 'outbox relay: purge published rows (each minute)' },
  { process: 'payment', pattern: /^\s*select o\.id, o\.total_cents as "totalCents"/, label: "read the batch's orders" },
  { process: 'payment', pattern: /^\s*insert into gateway_charges/, label: "mock provider: the charges (its ledger)" },
  { pattern: /^\s*with outcome as/, label: 'record outcomes: payment_attempts, orders.status, outbox rows' },
  { process: 'notify', pattern: /^\s*insert into deliveries/, label: "deliveries: register, start an attempt" },
  { process: 'notify', pattern: /^\s*select o\.id, o\.customer_email/, label: "the orders' facts for the messages" },
  { process: 'notify', pattern: /^\s*with sent as/, label: 'delivery sent (and orders.notified_at)' },
  { pattern: /pg_try_advisory_xact_lock/, label: "reconciler: its lock" },
  { process: 'api', pattern: /left join "payment_attempts" on "payment_attempts"\."order_id" = "orders"\."id" where "orders"\."id" in/, label: 'order streams: orders and payments' },
  { process: 'api', pattern: /from "order_items" where "order_items"\."order_id" in/, label: 'order streams: items' },
  { process: 'api', pattern: /from "deliveries" where "deliveries"\."order_id" in/, label: 'order streams: deliveries' },
  { process: 'api', pattern: /^\s*select "orders"\."id", "orders"\."customer_email"/, label: 'reconciler: stalled orders' },
  { pattern: /from outbox where published_at is null/, label: 'ops/metrics: outbox backlog' },
  { pattern: /^\s*select channel::text as channel, count\(\*\) filter/, label: 'ops/metrics: deliveries not sent' },
  { pattern: /date_trunc\(\$?\S*,? ?created_at\)/, label: 'ops page: orders by status, last 15 minutes' },
  { pattern: /^\s*select \$?1\s*$/, label: 'health: select 1' },
];

export function statementLabel(process: string, query: string): string {
  const found = LABELS.find((entry) => (entry.process === undefined || entry.process === process) && entry.pattern.test(query));
  if (found) return found.label;
  const flat = query.replace(/\s+/g, ' ').trim();
  return `\`${(flat.length > 110 ? `${flat.slice(0, 110)}...` : flat).replaceAll('|', '\\|')}\``;
}
