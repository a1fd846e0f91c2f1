import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { ParsedMail } from 'mailparser';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { greylist, rejectRecipients, startMailSink, ACCEPT_ALL, type MailSink, type RecipientPolicy } from '../../scripts/lib/mail-sink.ts';
import { get, readJson } from '../helpers/app.ts';
import { deliveryOf, menuItem, paidOrder } from '../helpers/notify.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { healthPort, killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { freePort } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

/**
 * The customer's e-mail, end to end: a real notify process sends it with nodemailer to the system's real
 * SMTP server (smtp-server, in this process), which is told how to answer; what arrived is read with
 * mailparser. Orders get their payment outcome as the payment worker records one (tests/helpers/notify.ts).
 */
let pipeline: Pipeline;
let notify: RunningService;
// Short steps, so a deferred e-mail comes back within the test: 300, 600 and 900 ms (+-20 %), then failed.
const SCHEDULE = '300,600,900';
const ADMIN_TOKEN = 'email-test-admin-token';

const startNotify = (extra: Record<string, string> = {}) =>
  spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-email-test', EMAIL_RETRY_SCHEDULE_MS: SCHEDULE, MAIL_FROM: 'Pizza Place <orders@pizza.example>', ...extra }));

beforeAll(async () => {
  pipeline = await createPipeline('notify_email', { appEnv: { ADMIN_TOKEN } });
  notify = startNotify();
  await notify.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
});
afterAll(async () => {
  await killAll();
  await pipeline?.close();
});

/** The messages the sink accepted for one recipient, parsed. */
async function mailTo(sink: MailSink, address: string): Promise<ParsedMail[]> {
  return Promise.all(sink.accepted.filter((mail) => mail.to.includes(address)).map((mail) => mail.parsed()));
}

/** Only `address` is answered by `policy`; everybody else is accepted, so the tests do not step on each other. */
function only(address: string, policy: RecipientPolicy): RecipientPolicy {
  return (recipient, attempt) => (recipient === address ? policy(recipient, attempt) : undefined);
}

async function orderView(id: string, admin = false) {
  return readJson(await pipeline.app.handle(get(`/orders/${id}`, admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {})));
}

describe('the customer e-mail', () => {
  it('sends a paid order one receipt, as text and HTML from one template, escaped, under a Message-ID derived from the order', async () => {
    const tricky = await menuItem(pipeline, `Fish & Chips <b>"special"</b>`, 1150);
    const { id } = await paidOrder(pipeline, 'receipt@example.com', { items: [{ menuItemId: tricky, quantity: 2 }, { menuItemId: 1, quantity: 1 }] });
    const [mail] = await waitFor(async () => {
      const mails = await mailTo(pipeline.system.mail, 'receipt@example.com');
      return mails.length > 0 && mails;
    }, { what: 'the receipt' });

    expect(mail!.messageId).toBe(`<${id}.receipt@pizza.example>`);
    expect(mail!.subject).toBe(`Receipt for your order ${id}`);
    expect(mail!.from?.value).toEqual([{ address: 'orders@pizza.example', name: 'Pizza Place' }]);
    expect(mail!.headers.get('auto-submitted')).toBe('auto-generated');
    const order = await orderView(id, true);
    // Text: every line with its quantity, the total and the order id.
    for (const line of order.items) expect(mail!.text).toContain(`${line.quantity} x ${line.name}`);
    expect(mail!.text).toContain('Fish & Chips <b>"special"</b>');
    expect(mail!.text).toContain(`$${(order.totalCents / 100).toFixed(2)}`);
    expect(mail!.text).toContain('$23.00');
    expect(mail!.text).toContain(id);
    // HTML: the same words, the menu name escaped, never markup.
    const html = String(mail!.html);
    expect(html).toContain('Fish &amp; Chips &lt;b&gt;&quot;special&quot;&lt;/b&gt;');
    expect(html).not.toContain('<b>"special"</b>');
    expect(html).toContain(`$${(order.totalCents / 100).toFixed(2)}`);
    expect(html).toContain(id);

    const delivery = await waitFor(async () => (await deliveryOf(pipeline, id, 'email'))?.status === 'sent' && deliveryOf(pipeline, id, 'email'));
    expect(delivery).toMatchObject({ status: 'sent', attempts: 1, lastError: null, recipient: 'receipt@example.com', messageId: `<${id}.receipt@pizza.example>` });
    const view = await orderView(id);
    expect(view.deliveries).toEqual([{ channel: 'email', status: 'sent', attempts: 1, lastError: null, sentAt: delivery!.sentAt!.toISOString() }]);
    expect(view.notifiedAt).toBe(delivery!.sentAt!.toISOString());
  });

  it('sends a declined payment an explanation in plain words and what to do, under its own Message-ID', async () => {
    const { id } = await paidOrder(pipeline, 'declined@example.com', { outcome: 'failed', failureReason: 'insufficient_funds' });
    const [mail] = await waitFor(async () => {
      const mails = await mailTo(pipeline.system.mail, 'declined@example.com');
      return mails.length > 0 && mails;
    }, { what: 'the explanation' });
    expect(mail!.messageId).toBe(`<${id}.payment-failed@pizza.example>`);
    expect(mail!.subject).toBe(`Payment failed for your order ${id}`);
    expect(mail!.text).toContain('the card does not have enough funds');
    expect(mail!.text).toContain('You have not been charged');
    expect(mail!.text).toContain('What to do: place the order again with another card');
    expect(String(mail!.html)).toContain('the card does not have enough funds');
    expect(mail!.text).not.toContain('insufficient_funds');
  });

  it('waits on the schedule when the server greylists (451), and is accepted on the next attempt', async () => {
    pipeline.system.mail.policy = only('greylisted@example.com', greylist(1));
    try {
      const { id } = await paidOrder(pipeline, 'greylisted@example.com');
      const deferred = await waitFor(async () => {
        const delivery = await deliveryOf(pipeline, id, 'email');
        return delivery?.lastError && delivery;
      }, { what: 'the first attempt deferred' });
      expect(deferred.lastError).toContain('451 4.7.1 Greylisted');
      expect(deferred.retryUntil).not.toBeNull();

      const sent = await waitFor(async () => {
        const delivery = await deliveryOf(pipeline, id, 'email');
        return delivery?.status === 'sent' && delivery;
      }, { what: 'the e-mail accepted on its second attempt' });
      expect(sent.attempts).toBe(2);
      // Came back on the schedule's first step (300 ms, jittered +-20 %), not at once.
      expect(sent.sentAt!.getTime() - deferred.updatedAt.getTime()).toBeGreaterThanOrEqual(240 - 50);
      expect(pipeline.system.mail.recipients.filter((r) => r.recipient === 'greylisted@example.com').map((r) => r.reply?.code ?? 250)).toEqual([451, 250]);
      expect(await mailTo(pipeline.system.mail, 'greylisted@example.com')).toHaveLength(1);
      const view = await orderView(id);
      expect(view.deliveries).toEqual([{ channel: 'email', status: 'sent', attempts: 2, lastError: expect.stringContaining('451'), sentAt: sent.sentAt!.toISOString() }]);
    } finally {
      pipeline.system.mail.policy = ACCEPT_ALL;
    }
  });

  it("records a 550 as failed with the server's reply, tries no more, dead-letters it, and counts and shows it", async () => {
    pipeline.system.mail.policy = only('nobody@example.com', rejectRecipients(() => true));
    try {
      const { id } = await paidOrder(pipeline, 'nobody@example.com');
      const failed = await waitFor(async () => {
        const delivery = await deliveryOf(pipeline, id, 'email');
        return delivery?.status === 'failed' && delivery;
      }, { what: 'the delivery failed' });
      expect(failed).toMatchObject({ attempts: 1, sentAt: null, retryUntil: null });
      expect(failed.lastError).toContain('550 5.1.1 <nobody@example.com>: Recipient address rejected');

      // Dead-lettered at once with the reply, and on /ops; the order is never notified.
      const letter = await waitFor(async () => (await pipeline.deadLetters(TOPOLOGY.CustomerEmail.deadLetterStream)).find((l) => l.fields?.includes(id)), {
        what: 'the dead letter',
      });
      expect(letter.error).toContain('550 5.1.1');
      expect(letter.group).toBe(TOPOLOGY.CustomerEmail.group);
      const summary = await readJson(await pipeline.app.handle(get('/ops/summary')));
      expect(summary.deliveries.find((d: { channel: string }) => d.channel === 'email')).toMatchObject({ failed: 1 });
      const view = await orderView(id);
      expect(view.notifiedAt).toBeNull();
      // Without the admin token the reply's address is masked, as the order's own is.
      expect(view.deliveries).toEqual([{ channel: 'email', status: 'failed', attempts: 1, lastError: expect.stringContaining('<n***@example.com>'), sentAt: null }]);
      expect((await orderView(id, true)).deliveries[0].lastError).toContain('<nobody@example.com>');

      const metrics = await (await fetch(`http://127.0.0.1:${await healthPort(notify)}/metrics`)).text();
      expect(metrics).toMatch(/^notify_delivery_attempts_total\{channel="email",result="refused",service="notify"\} 1$/m);
      expect(metrics).toMatch(/^notify_deliveries_failed\{channel="email",service="notify"\} 1$/m);
      // Tried once: the server saw one RCPT TO for it, and there is no retry waiting.
      expect(pipeline.system.mail.recipients.filter((r) => r.recipient === 'nobody@example.com')).toHaveLength(1);
      expect((await deliveryOf(pipeline, id, 'email'))!.attempts).toBe(1);
    } finally {
      pipeline.system.mail.policy = ACCEPT_ALL;
    }
  });

  it('sends nothing again for a redelivered or re-emitted event', async () => {
    const { id } = await paidOrder(pipeline, 'once@example.com');
    await waitFor(async () => (await deliveryOf(pipeline, id, 'email'))?.status === 'sent', { what: 'the receipt sent' });
    // The same event twice more on the stream, as a replay or the reconciler would put it back.
    const entries = (await pipeline.admin.xrange(pipeline.key(TOPOLOGY.CustomerEmail.stream), '-', '+')) as [string, string[]][];
    const entry = entries.find(([, flat]) => flat.includes(id))!;
    for (let copy = 0; copy < 2; copy++) await pipeline.admin.xadd(pipeline.key(TOPOLOGY.CustomerEmail.stream), '*', ...entry[1]);
    await notify.waitForLine((l) => l.order_id === id && l.msg === 'already delivered; nothing to do', 'a copy seen');
    // Read in two batches, each copy finds the delivery sent; read in one (a CI run did), the second is
    // that batch's copy of the first, which carries the work.
    const copySeen = ['already delivered; nothing to do', 'a copy of an event in the same batch; its first entry delivers'];
    await waitFor(async () => notify.lines.filter((l) => l.order_id === id && copySeen.includes(String(l.msg))).length === 2, { what: 'both copies seen' });
    expect(await mailTo(pipeline.system.mail, 'once@example.com')).toHaveLength(1);
    expect((await deliveryOf(pipeline, id, 'email'))!.attempts).toBe(1);
  });

  it('waits while the mail server refuses connections, and delivers once it answers', async () => {
    await notify.stop();
    const port = await freePort();
    const down = startNotify({ SMTP_URL: `smtp://127.0.0.1:${port}` });
    let late: MailSink | undefined;
    try {
      await down.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
      const { id } = await paidOrder(pipeline, 'later@example.com');
      const deferred = await waitFor(async () => {
        const delivery = await deliveryOf(pipeline, id, 'email');
        return delivery?.lastError && delivery;
      }, { what: 'an attempt refused a connection' });
      expect(deferred.status).toBe('pending');
      expect(deferred.lastError).toMatch(/ECONNREFUSED|ECONNECTION/);

      late = await startMailSink({ port });
      const sent = await waitFor(async () => {
        const delivery = await deliveryOf(pipeline, id, 'email');
        return delivery?.status === 'sent' && delivery;
      }, { what: 'the e-mail delivered once the server answers', timeoutMs: 15_000 });
      expect(sent.attempts).toBeGreaterThanOrEqual(2);
      expect(await mailTo(late, 'later@example.com')).toHaveLength(1);
    } finally {
      await down.stop();
      await late?.stop();
      notify = startNotify();
    }
  });
});
