/**
 * `bun run bench --only smtp`: what one customer e-mail costs in CPU, each side of SMTP apart. This
 * process sends as the notify worker does, through the real email channel (createSmtpMailer +
 * createEmailChannel, the template included), `concurrency` sends at a time; the sink the end-to-end
 * bench runs (scripts/lib/mail-sink.ts) listens in a process of its own (mail-sink-process.ts). The
 * sender's CPU is this process's (process.cpuUsage: every thread, the GC's included), the sink's is read
 * from /proc/<pid>/stat (1/100 s ticks: enough over thousands of messages).
 */
import { randomUUID } from 'node:crypto';
import { createEmailChannel } from '../../src/notify/email/email-channel.ts';
import { createSmtpMailer } from '../../src/notify/email/smtp-mailer.ts';
import type { OrderFacts } from '../../src/notify/order-facts.ts';
import { SEED_MENU } from '../../src/shared/db/seed.ts';
import { forEachLine } from '../../scripts/lib/read-lines.ts';
import { busyTicks, cpuSecondsOf } from './cpu-accounting.ts';

export interface SmtpCostOptions {
  messages: number;
  /** Sends at a time: the notify consumer's CONSUMER_CONCURRENCY. */
  concurrency: number;
  /** Messages sent first and not counted: JIT, the pool's connections open. */
  warmup: number;
  from: string;
  currency: string;
}

export interface SmtpCost {
  messages: number;
  concurrency: number;
  seconds: number;
  /** CPU milliseconds per message: this process (sender), the sink process, and the machine's busy time (all CPUs, everyone). */
  senderMs: number;
  sinkMs: number;
  machineMs: number;
  /** Outcomes other than `sent` (should be none). */
  notSent: number;
}

/** An order like the bench's (wrk-order.lua: one Margherita, one Pepperoni), every tenth declined. */
function orderFacts(n: number): OrderFacts {
  const items = SEED_MENU.slice(0, 2).map((item) => ({ menuItemId: item.id, name: item.name, quantity: 1, unitPriceCents: item.priceCents }));
  const declined = n % 10 === 9;
  const now = new Date();
  return {
    id: randomUUID(),
    customerEmail: `bench${n}@example.com`,
    totalCents: items.reduce((sum, item) => sum + item.unitPriceCents * item.quantity, 0),
    createdAt: now,
    outcome: declined ? 'failed' : 'succeeded',
    failureReason: declined ? 'insufficient_funds' : null,
    decidedAt: now,
    items,
    delivery: null,
  };
}

/** Starts mail-sink-process.ts; resolves once it listens. */
async function spawnSink() {
  const child = Bun.spawn([process.execPath, new URL('mail-sink-process.ts', import.meta.url).pathname], { stdout: 'pipe', stderr: 'inherit' });
  let accepted: number | undefined;
  const { promise: listening, resolve } = Promise.withResolvers<string>();
  const reading = forEachLine(child.stdout, (line) => {
    const parsed = JSON.parse(line) as { url?: string; accepted?: number };
    if (parsed.url) resolve(parsed.url);
    if (parsed.accepted !== undefined) accepted = parsed.accepted;
  });
  const url = await Promise.race([listening, child.exited.then((code) => Promise.reject(new Error(`the mail sink exited with ${code}`)))]);
  return {
    url,
    pid: child.pid,
    async stop(): Promise<number> {
      child.kill('SIGTERM');
      await Promise.all([child.exited, reading]);
      if (accepted === undefined) throw new Error(`the mail sink exited with ${child.exitCode} and no count`);
      return accepted;
    },
  };
}

/** Sends `messages` e-mails (after `warmup` more) to a sink process and returns each side's CPU per message. */
export async function smtpCost({ messages, concurrency, warmup, from, currency }: SmtpCostOptions): Promise<SmtpCost> {
  const sink = await spawnSink();
  const timeoutMs = 30_000;
  const mailer = createSmtpMailer({ url: sink.url, from, timeoutMs });
  const channel = createEmailChannel({ mailer, from, currency, timeoutMs, retryScheduleMs: [1000] });
  let notSent = 0;
  let next = 0;
  const sendAll = async (count: number) => {
    const end = next + count;
    const lane = async () => {
      while (next < end) {
        const result = await channel.send(orderFacts(next++));
        if (result.kind !== 'sent') notSent++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
  };
  try {
    await sendAll(warmup);
    Bun.gc(true);
    const [senderBefore, sinkBefore, machineBefore, started] = [process.cpuUsage(), await cpuSecondsOf(sink.pid), await busyTicks(), performance.now()];
    await sendAll(messages);
    const seconds = (performance.now() - started) / 1000;
    const sender = process.cpuUsage(senderBefore);
    const [sinkAfter, machineAfter] = [await cpuSecondsOf(sink.pid), await busyTicks()];
    return {
      messages,
      concurrency,
      seconds,
      senderMs: (sender.user + sender.system) / 1000 / messages,
      sinkMs: ((sinkAfter - sinkBefore) * 1000) / messages,
      // Ticks of 1/100 s: 10 ms each.
      machineMs: ((machineAfter - machineBefore) * 10) / messages,
      notSent,
    };
  } finally {
    mailer.close();
    const accepted = await sink.stop();
    if (accepted !== next - notSent) console.warn(`the sink accepted ${accepted} messages of ${next - notSent} sent`);
  }
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);

/** The figures as a Markdown table under `heading`, as bench/README.md quotes them. */
export function smtpCostText(cost: SmtpCost, heading: string): string {
  return [
    heading,
    '',
    '| messages | sends at a time | messages/s | sender CPU ms/msg | sink CPU ms/msg | both | machine busy ms/msg | not sent |',
    '|---|---|---|---|---|---|---|---|',
    `| ${cost.messages} | ${cost.concurrency} | ${fmt(cost.messages / cost.seconds, 0)} | ${fmt(cost.senderMs)} | ${fmt(cost.sinkMs)} | ${fmt(cost.senderMs + cost.sinkMs)} | ${fmt(cost.machineMs)} | ${cost.notSent} |`,
  ].join('\n');
}
