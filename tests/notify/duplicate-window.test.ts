import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { ParsedMail } from 'mailparser';
import { TOPOLOGY } from '../../src/shared/pipeline/topology.ts';
import { deliveryOf, paidOrder } from '../helpers/notify.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService, type RunningService } from '../helpers/processes.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { waitFor } from '../helpers/wait-for.ts';

allowSlowTests();

/**
 * SMTP has no idempotency key: once the server said `250` the message is out, and only our commit of
 * `sent` stops another attempt. So a notify worker that dies between the two sends it again on restart,
 * and nowhere else. These tests kill a real notify process at each point, from inside the real SMTP
 * server it talks to (which can stop the sender exactly there), and count what the server accepted.
 */
let pipeline: Pipeline;

// The same consumer name after a restart: the new process resumes the dead one's pending entry at once.
const start = () =>
  spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-window', SMTP_TIMEOUT_MS: '1000', EMAIL_RETRY_SCHEDULE_MS: '300,300,300,300' }));

beforeAll(async () => {
  pipeline = await createPipeline('notify_window');
});
afterAll(async () => {
  await killAll();
  await pipeline?.close();
});

async function started(): Promise<RunningService> {
  const notify = start();
  await notify.waitForLine((l) => l.msg === 'consumer started', 'consumer started');
  return notify;
}

async function mailTo(address: string): Promise<ParsedMail[]> {
  return Promise.all(pipeline.system.mail.accepted.filter((mail) => mail.to.includes(address)).map((mail) => mail.parsed()));
}

async function sentOnce(orderId: string) {
  return waitFor(async () => {
    const delivery = await deliveryOf(pipeline, orderId, 'email');
    return delivery?.status === 'sent' && delivery;
  }, { what: 'the e-mail recorded sent', timeoutMs: 15_000 });
}

describe('the one window for a duplicate e-mail', () => {
  it('sends once when the worker dies before the server accepted the message', async () => {
    const doomed = await started();
    const address = 'before-250@example.com';
    pipeline.system.mail.beforeAccept = (mail) => {
      if (!mail.to.includes(address)) return;
      pipeline.system.mail.beforeAccept = undefined;
      doomed.proc.kill('SIGKILL');
      // The sender is gone before the 250: the server keeps nothing (it answers a 451 to nobody).
      throw new Error('the sender died during DATA');
    };
    const { id } = await paidOrder(pipeline, address);
    expect(await doomed.proc.exited).not.toBe(0);
    expect(await mailTo(address)).toHaveLength(0);

    const restarted = await started();
    const sent = await sentOnce(id);
    expect(await mailTo(address)).toHaveLength(1);
    // The dead attempt, then the one after the restart (which waited for the dead one's lease).
    expect(sent.attempts).toBe(2);
    await restarted.stop();
  });

  it('sends twice, as the same message, when the worker dies between the server\'s 250 and its commit', async () => {
    const doomed = await started();
    const address = 'after-250@example.com';
    pipeline.system.mail.beforeAccept = (mail) => {
      if (!mail.to.includes(address)) return;
      pipeline.system.mail.beforeAccept = undefined;
      // Frozen before it can read the 250, killed right after the 250 went out: it never commits.
      doomed.proc.kill('SIGSTOP');
      pipeline.system.mail.afterAccept = () => {
        pipeline.system.mail.afterAccept = undefined;
        doomed.proc.kill('SIGKILL');
      };
    };
    const { id } = await paidOrder(pipeline, address);
    expect(await doomed.proc.exited).not.toBe(0);
    expect(await mailTo(address)).toHaveLength(1);
    expect((await deliveryOf(pipeline, id, 'email'))!.status).toBe('pending');

    const restarted = await started();
    await sentOnce(id);
    const copies = await mailTo(address);
    expect(copies).toHaveLength(2);
    // The duplicate is recognisably the same message: one Message-ID, the same words.
    expect(new Set(copies.map((mail) => mail.messageId))).toEqual(new Set([`<${id}.receipt@example.com>`]));
    expect(copies[1]!.subject).toBe(copies[0]!.subject!);
    expect(copies[1]!.text).toBe(copies[0]!.text!);
    await restarted.stop();
  });

  it('sends once when the worker dies after its commit, however often the event comes again', async () => {
    const doomed = await started();
    const address = 'after-commit@example.com';
    const { id } = await paidOrder(pipeline, address);
    await sentOnce(id);
    doomed.proc.kill('SIGKILL');
    await doomed.proc.exited;

    // Whether or not its acknowledgement got out, the restarted worker may see the entry again; and the
    // event comes again as a replay or the reconciler would send it.
    const restarted = await started();
    const entries = (await pipeline.admin.xrange(pipeline.key(TOPOLOGY.CustomerEmail.stream), '-', '+')) as [string, string[]][];
    const [, fields] = entries.find(([, flat]) => flat.includes(id))!;
    await pipeline.admin.xadd(pipeline.key(TOPOLOGY.CustomerEmail.stream), '*', ...fields);
    await restarted.waitForLine((l) => l.order_id === id && l.msg === 'already delivered; nothing to do', 'the copy seen');
    expect(await mailTo(address)).toHaveLength(1);
    expect((await deliveryOf(pipeline, id, 'email'))!.attempts).toBe(1);
    await restarted.stop();
  });
});
