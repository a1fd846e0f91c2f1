import type { PgProfile } from './pg-profile.ts';
import type { StatementWork } from './pg-counters.ts';
import { statementLabel } from './statement-labels.ts';

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const UTILITY = /^\s*(begin|commit|rollback|start transaction)\b/i;

/** The service a role belongs to (`bench_pg_api` -> `api`); the bench's own role is `bench`. */
const processOf = (role: string, benchRole: string) => (role === benchRole ? 'bench' : role.replace(/^bench_pg_/, ''));

/** Statements of one process with one label summed: the same statement can be two entries (two texts of one query). */
function grouped(statements: readonly StatementWork[], benchRole: string) {
  const rows = new Map<string, StatementWork & { process: string; label: string }>();
  for (const s of statements) {
    const process = processOf(s.role, benchRole);
    const label = statementLabel(process, s.query);
    const key = `${process}\0${label}`;
    const row = rows.get(key) ?? { ...s, process, label, calls: 0, rows: 0, blocks: 0, walBytes: 0, walFpi: 0, execMs: 0 };
    row.calls += s.calls;
    row.rows += s.rows;
    row.blocks += s.blocks;
    row.walBytes += s.walBytes;
    row.walFpi += s.walFpi;
    row.execMs += s.execMs;
    rows.set(key, row);
  }
  return [...rows.values()];
}

/**
 * The profile as Markdown: PostgreSQL's work per order over the database, then by process, by statement
 * (slowest first), by table and by index. Statement figures are pg_stat_statements': executor time is
 * wall clock inside PostgreSQL (no round trip, no parse), blocks are shared buffers hit plus read.
 */
export function pgProfileText(profile: PgProfile, heading: string): string {
  const { orders, counters, benchRole } = profile;
  const per = (n: number) => n / Math.max(1, orders);
  const rows = grouped(profile.statements, benchRole);
  const services = rows.filter((r) => r.process !== 'bench');
  // The bench's own statements (the drain wait, the counters) are each a transaction of their own.
  const benchTransactions = rows.filter((r) => r.process === 'bench' && !UTILITY.test(r.query)).reduce((sum, r) => sum + r.calls, 0);
  const t = counters.totals;
  const statementWal = services.reduce((sum, r) => sum + r.walBytes, 0);
  const lines = [
    heading,
    '',
    `${orders} orders at ${fmt(profile.load.created / profile.load.seconds, 0)}/s. Per order, the services' work (the bench's own ${benchTransactions} statements taken out of the transactions):`,
    '',
    '| transactions | tuples read (returned + fetched) | WAL bytes (records, full-page images) | WAL bytes in statements | PostgreSQL CPU ms | api / payment / notify CPU ms |',
    '|---|---|---|---|---|---|',
    `| ${fmt(per(t.transactions - benchTransactions))} | ${fmt(per(t.tuplesRead), 1)} (${fmt(per(t.tuplesReturned), 1)} + ${fmt(per(t.tuplesFetched), 1)}) | ${fmt(per(t.walBytes), 0)} (${fmt(per(t.walRecords), 1)}, ${fmt(per(t.walFpi), 2)}) | ${fmt(per(statementWal), 0)} | ${fmt(per((profile.cpuSeconds.postgres ?? 0) * 1000))} | ${['api', 'payment', 'notify'].map((name) => fmt(per((profile.cpuSeconds[name] ?? 0) * 1000))).join(' / ')} |`,
    '',
    `PostgreSQL's CPU per order, ms, by the sessions' role or the server process's type: ${Object.entries(profile.backendCpuSeconds)
      .filter(([, seconds]) => seconds > 0)
      .sort(([, a], [, b]) => b - a)
      .map(([who, seconds]) => `${processOf(who, benchRole)} ${fmt(per(seconds * 1000))}`)
      .join(', ')}`,
    '',
    'By process (BEGIN: its transactions of several statements, the relay claims here; statements: every other, inside those or a transaction each):',
    '',
    '| process | BEGIN / order | statements / order | rows | blocks | WAL bytes | executor ms |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const process of [...new Set(services.map((r) => r.process))].sort()) {
    const mine = services.filter((r) => r.process === process);
    const calls = (pattern: RegExp) => mine.filter((r) => pattern.test(r.query)).reduce((sum, r) => sum + r.calls, 0);
    const sum = (pick: (r: StatementWork) => number) => mine.filter((r) => !UTILITY.test(r.query)).reduce((total, r) => total + pick(r), 0);
    const wal = mine.reduce((total, r) => total + r.walBytes, 0);
    lines.push(
      `| ${process} | ${fmt(per(calls(/^\s*(begin|start transaction)\b/i)))} | ${fmt(per(sum((r) => r.calls)))} | ${fmt(per(sum((r) => r.rows)), 1)} | ${fmt(per(sum((r) => r.blocks)), 1)} | ${fmt(per(wal), 0)} | ${fmt(per(mine.reduce((total, r) => total + r.execMs, 0)), 3)} |`,
    );
  }
  lines.push('', 'By statement, per order, most executor time first:', '', '| process | statement | calls | rows | blocks | WAL bytes | executor ms |', '|---|---|---|---|---|---|---|');
  for (const r of services.toSorted((a, b) => b.execMs - a.execMs)) {
    if (per(r.calls) < 0.005 && per(r.execMs) < 0.001) continue;
    lines.push(`| ${r.process} | ${r.label} | ${fmt(per(r.calls))} | ${fmt(per(r.rows))} | ${fmt(per(r.blocks), 1)} | ${fmt(per(r.walBytes), 0)} | ${fmt(per(r.execMs), 3)} |`);
  }
  lines.push('', 'By table, per order:', '', '| table | seq scans | rows seq-read | index scans | rows fetched by index | inserted | updated (HOT) | deleted |', '|---|---|---|---|---|---|---|---|');
  for (const [name, w] of Object.entries(counters.tables).sort(([a], [b]) => a.localeCompare(b))) {
    if (Object.values(w).every((n) => n === 0)) continue;
    lines.push(`| ${name} | ${fmt(per(w.seq_scan!))} | ${fmt(per(w.seq_tup_read!), 1)} | ${fmt(per(w.idx_scan!))} | ${fmt(per(w.idx_tup_fetch!), 1)} | ${fmt(per(w.n_tup_ins!))} | ${fmt(per(w.n_tup_upd!))} (${fmt(per(w.n_tup_hot_upd!))}) | ${fmt(per(w.n_tup_del!))} |`);
  }
  lines.push('', 'By index, per order:', '', '| index | scans | entries read | rows fetched |', '|---|---|---|---|');
  for (const [name, w] of Object.entries(counters.indexes).sort(([a], [b]) => a.localeCompare(b))) {
    if (w.idx_scan === 0) continue;
    lines.push(`| ${name} | ${fmt(per(w.idx_scan!))} | ${fmt(per(w.idx_tup_read!), 1)} | ${fmt(per(w.idx_tup_fetch!), 1)} |`);
  }
  if (profile.wal) {
    const ours = profile.wal.reduce((sum, w) => sum + w.bytes, 0);
    const byRelation = Map.groupBy(profile.wal, (w) => w.relation);
    lines.push('', `This database's WAL (pg_walinspect): ${fmt(per(ours), 0)} bytes per order, by relation (its three largest record types):`, '', '| relation | records | bytes | of which full-page images | largest record types, bytes |', '|---|---|---|---|---|');
    const total = (shares: readonly { bytes: number }[]) => shares.reduce((sum, w) => sum + w.bytes, 0);
    for (const [relation, shares] of [...byRelation].sort(([, a], [, b]) => total(b) - total(a))) {
      if (per(total(shares)) < 1) continue;
      const kinds = shares.toSorted((a, b) => b.bytes - a.bytes).slice(0, 3).map((w) => `${w.kind} ${fmt(per(w.bytes), 0)}`).join(', ');
      lines.push(`| ${relation} | ${fmt(per(shares.reduce((sum, w) => sum + w.records, 0)))} | ${fmt(per(total(shares)), 0)} | ${fmt(per(shares.reduce((sum, w) => sum + w.fpiBytes, 0)), 0)} | ${kinds} |`);
    }
  }
  return lines.join('\n');
}
