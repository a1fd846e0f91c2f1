/**
 * The notifications' side of a chaos run: a mail server that greylists, a restaurant endpoint that
 * fails for a while and now and then, and what must hold at the end, counted where the messages
 * landed (Message-IDs at the SMTP server, verified webhook-ids at the endpoint), never from the
 * workers' own records.
 */
import { sql } from 'drizzle-orm';
import type { Database } from '../../src/shared/db/client.ts';
import { greylist, type MailSink } from '../lib/mail-sink.ts';
import type { RunningService } from '../lib/spawn-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../lib/webhook-receiver.ts';

/** Retries short enough to finish within the run, long enough (about 15 s in all) to outlast the endpoint's outage. */
export const NOTIFY_CHAOS_ENV: Record<string, string> = {
  EMAIL_RETRY_SCHEDULE_MS: '300,600,1200,2400,4800',
  SMTP_TIMEOUT_MS: '5000',
  WEBHOOK_RETRY_SCHEDULE_MS: '200,500,1000,2000,4000,8000',
  WEBHOOK_TIMEOUT_MS: '1000',
};

/** A restaurant endpoint that is down for a stretch of the run, and fails the first try of every 4th webhook besides. */
export function startFailingEndpoint(): WebhookReceiver & { outage(fromMs: number, forMs: number): void } {
  let down = { from: 0, until: 0 };
  const receiver = startWebhookReceiver({
    policy: (webhookId, attempt) => {
      const now = Date.now();
      if (now >= down.from && now < down.until) return { status: 503 };
      const everyFourth = [...webhookId].reduce((sum, char) => sum + char.charCodeAt(0), 0) % 4 === 0;
      return attempt === 1 && everyFourth ? { status: 500 } : { status: 204 };
    },
  });
  return Object.assign(receiver, {
    outage(fromMs: number, forMs: number) {
      down = { from: Date.now() + fromMs, until: Date.now() + fromMs + forMs };
    },
  });
}

/** Every 5th customer's first try is greylisted (451), as a mail server meeting an unknown sender does. */
export function greylistSome(mail: MailSink): void {
  mail.policy = greylist(1, (recipient) => Number(recipient.match(/^chaos-(\d+)@/)?.[1] ?? 1) % 5 === 0);
}

/** Paid orders whose webhook the endpoint has not taken yet: the run drains until there are none. */
export async function webhooksOutstanding(db: Database, receiver: WebhookReceiver): Promise<number> {
  const paid = await db.execute<{ id: string }>(sql`select id::text as id from orders where status = 'paid'`);
  const taken = new Set(receiver.accepted().map((request) => request.id));
  return paid.filter(({ id }) => ![...taken].some((webhookId) => webhookId.includes(id))).length;
}

export interface NotificationFacts {
  db: Database;
  mail: MailSink;
  receiver: WebhookReceiver;
  notifyProcesses: readonly RunningService[];
}

/**
 * - every final order's e-mail was delivered once: exactly one Message-ID per order at the SMTP server,
 *   the one of its outcome; a copy of it beyond the first only for an e-mail whose sender was SIGKILLed
 *   between starting it (`delivering`) and recording it (`delivered`), the one window SMTP leaves;
 * - every paid order's webhook was taken by the endpoint, verified by the standardwebhooks package,
 *   and no failed order had one.
 */
export async function notificationInvariants({ db, mail, receiver, notifyProcesses }: NotificationFacts): Promise<{ ok: boolean; line: string }[]> {
  const orders = await db.execute<{ id: string; status: string }>(sql`select id::text as id, status::text as status from orders where status <> 'processing'`);
  const copies = new Map<string, number>();
  for (const message of await mail.messages()) if (message.messageId) copies.set(message.messageId, (copies.get(message.messageId) ?? 0) + 1);
  const messageIdOf = (order: { id: string; status: string }) => [...copies.keys()].filter((messageId) => messageId.startsWith(`<${order.id}.`));
  const wrong = orders.filter((order) => {
    const ids = messageIdOf(order);
    return ids.length !== 1 || !ids[0]!.startsWith(`<${order.id}.${order.status === 'paid' ? 'receipt' : 'payment-failed'}@`);
  });

  // Attempts whose outcome the worker never learnt, by order: the only ones whose e-mail may arrive again.
  // Its process was killed after starting it (`delivering` with nothing after), or our deadline ran out
  // waiting for the server's answer, which may have been a 250 all the same.
  const cutShort = new Map<string, number>();
  const unknown = (id: string) => cutShort.set(id, (cutShort.get(id) ?? 0) + 1);
  for (const process of notifyProcesses) {
    const killed = process.proc.signalCode === 'SIGKILL';
    const open = new Set<string>();
    for (const line of process.lines) {
      if (line.channel !== 'email') continue;
      const id = String(line.order_id);
      if (line.msg === 'delivering') open.add(id);
      else if (line.msg === 'delivered' || String(line.msg).startsWith('delivery ')) open.delete(id);
      if (String(line.reply).includes('SMTP_TIMEOUT_MS')) unknown(id);
    }
    if (killed) for (const id of open) unknown(id);
  }
  const extra = orders.flatMap((order) => messageIdOf(order).map((messageId) => ({ id: order.id, extra: copies.get(messageId)! - 1 }))).filter((o) => o.extra > 0);
  const unexplained = extra.filter((o) => o.extra > (cutShort.get(o.id) ?? 0));

  const paid = orders.filter((order) => order.status === 'paid');
  const takenIds = new Set(receiver.accepted().map((request) => request.id));
  const forOrder = (id: string) => [...takenIds].some((webhookId) => webhookId.includes(id));
  const notTaken = paid.filter((order) => !forOrder(order.id));
  const forFailed = orders.filter((order) => order.status !== 'paid' && forOrder(order.id));
  const unverified = receiver.requests.filter((request) => request.verifyError !== undefined);
  const refused = receiver.requests.filter((request) => request.status >= 300).length;

  return [
    {
      ok: wrong.length === 0 && unexplained.length === 0,
      line: `${orders.length - wrong.length} of ${orders.length} final orders' e-mails delivered once, counted by Message-ID at the SMTP server (${mail.recipients.filter((r) => r.reply?.code === 451).length} tries greylisted); ${extra.length - unexplained.length} sent again after a worker never learnt the server's 250 (killed, or out of time), ${unexplained.length} copies otherwise`,
    },
    {
      ok: notTaken.length === 0 && forFailed.length === 0 && unverified.length === 0,
      line: `${paid.length - notTaken.length} of ${paid.length} paid orders' webhooks taken by the endpoint (${refused} attempts failed on purpose, ${unverified.length} signatures that did not verify), ${forFailed.length} for failed payments`,
    },
  ];
}
