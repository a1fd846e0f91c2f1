import { afterAll, describe, expect, it } from 'bun:test';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachLine } from '../../scripts/lib/read-lines.ts';
import { readJson } from '../helpers/app.ts';
import { freePort } from '../helpers/redis.ts';
import { GiveUp, waitFor } from '../helpers/wait-for.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

const root = new URL('../..', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'orders-dev-'));
// As root, dev runs PostgreSQL as the postgres user, who must be able to reach the data directory.
chmodSync(dataDir, 0o755);
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function runDev(env: Record<string, string>) {
  const proc = Bun.spawn([process.execPath, 'run', 'dev'], {
    cwd: root,
    env: { PATH: Bun.env.PATH ?? '', HOME: Bun.env.HOME ?? '', DEV_DATA_DIR: dataDir, HEALTH_PORT: '0', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const output: string[] = [];
  void forEachLine(proc.stdout, (line) => output.push(line));
  void forEachLine(proc.stderr, (line) => output.push(line));
  return { proc, output };
}

describe('bun run dev', () => {
  it('starts private PostgreSQL and Redis when nothing answers, runs the whole system, and stops it all on Ctrl-C', async () => {
    const [pgPort, redisPort, apiPort, stripePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const [smtpPort, mailPagePort] = [await freePort(), await freePort()];
    const { proc, output } = runDev({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/orders`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
      PORT: String(apiPort),
      STRIPE_API_URL: `http://127.0.0.1:${stripePort}`,
      // Nothing answers there: dev starts MailDev on it, its web page on MAILDEV_WEB_PORT.
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      MAILDEV_WEB_PORT: String(mailPagePort),
    });
    try {
      await waitFor(
        () => {
          if (proc.exitCode !== null) throw new GiveUp(`bun run dev exited early:\n${output.join('\n')}`);
          return output.some((line) => line.includes('"api listening"'));
        },
        { what: 'the API to listen', timeoutMs: 45_000 },
      );
      expect(output.some((line) => line.includes('started a private PostgreSQL'))).toBe(true);
      expect(output.some((line) => line.includes('started a private Redis'))).toBe(true);

      const res = await fetch(`http://127.0.0.1:${apiPort}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items: [{ menuItemId: 8, quantity: 1 }], customerEmail: 'dev@example.com' }),
      });
      expect(res.status).toBe(201);
      const { id } = await readJson(res);
      const order = await waitFor(async () => {
        const current = await readJson(await fetch(`http://127.0.0.1:${apiPort}/orders/${id}`));
        return current.notifiedAt && current;
      }, { what: 'the order paid and notified', timeoutMs: 20_000 });
      // Paid through the official Stripe SDK, at the local sandbox dev started: the test Visa by default.
      expect(order.status).toBe('paid');
      expect(order.payment.chargeId).toStartWith('ch_');
      for (const prefix of ['[api    ]', '[payment]', '[notify ]', '[stripe ]', '[mail   ]']) expect(output.some((line) => line.startsWith(prefix))).toBe(true);
      // The customer's receipt, on the local mail sink's page (MailDev's own API behind it).
      const inbox = await readJson(await fetch(`http://127.0.0.1:${mailPagePort}/api/email`));
      expect(inbox.map((mail: { subject: string; to: { address: string }[] }) => [mail.subject, mail.to[0]!.address])).toContainEqual([`Receipt for your order ${id}`, 'dev@example.com']);
      const page = await fetch(`http://127.0.0.1:${mailPagePort}/`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
    } finally {
      proc.kill('SIGINT');
    }
    expect(await proc.exited).toBe(0);
    expect(output.filter((line) => line.includes('"msg":"stopped"'))).toHaveLength(3);
    // The private servers went with it.
    const stillUp = await Bun.connect({ hostname: '127.0.0.1', port: pgPort, socket: { data() {} } }).then(
      (socket) => (socket.end(), true),
      () => false,
    );
    expect(stillUp).toBe(false);
  });

  it('says in one line what it tried and what to run when it cannot start a database itself', async () => {
    const { proc, output } = runDev({ DATABASE_URL: 'postgres://postgres@db.invalid:5432/orders' });
    expect(await proc.exited).toBe(1);
    const message = output.find((line) => line.startsWith('Nothing answers at'));
    expect(message).toContain('postgres://postgres@db.invalid:5432/orders');
    expect(message).toContain('pg_ctlcluster');
    expect(message).toContain('docker compose up -d postgres redis');
    expect(output.join('\n')).not.toMatch(/\n\s+at /);
  });
});
