/**
 * `bun run dev`: makes sure PostgreSQL and Redis answer (starting private throwaway ones under
 * .data/ when nothing runs and the binaries are installed), prepares the database (create,
 * migrate, seed), then runs the API and both workers with prefixed output, beside the local Stripe
 * sandbox they pay through (unless STRIPE_API_URL points elsewhere) and the mail sink the customer
 * e-mails go to (unless SMTP_URL points elsewhere); Ctrl-C stops it all.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createDb } from '../src/shared/db/client.ts';
import { redactUrl } from '../src/shared/db/connection-error.ts';
import { ensureDatabase, migrateDatabase } from '../src/shared/db/migrate.ts';
import { seedMenu } from '../src/shared/db/seed.ts';
import { exitWith, loadConfigOrExit, startOrExit } from '../src/shared/runtime/startup.ts';
import { reachable, startPrivatePostgres, startPrivateRedis, stopPrivate, type PrivateService } from './lib/private-services.ts';
import { superviseAll, type ServiceSpec } from './lib/supervise.ts';

const SERVICES: ServiceSpec[] = [
  { name: 'api', entry: 'src/api/main.ts' },
  { name: 'payment', entry: 'src/payment/main.ts' },
  { name: 'notify', entry: 'src/notify/main.ts' },
];

const config = loadConfigOrExit(Bun.env);

/**
 * The other sides of our boundaries, when the configuration points at their local stand-ins: the Stripe
 * sandbox (STRIPE_API_URL on this machine) sends its webhooks to this API, signed with our secret.
 */
function localServers(): ServiceSpec[] {
  const servers: ServiceSpec[] = [];
  const stripe = new URL(config.stripe.apiUrl);
  if (config.payment.provider === 'stripe' && ['127.0.0.1', 'localhost'].includes(stripe.hostname)) {
    mkdirSync(dataDir, { recursive: true });
    servers.push({
      name: 'stripe',
      entry: 'src/sandbox/stripe/main.ts',
      env: {
        STRIPE_SANDBOX_PORT: stripe.port || '80',
        STRIPE_SANDBOX_DB: `${dataDir}/stripe-sandbox.sqlite`,
        STRIPE_SANDBOX_WEBHOOK_URL: `http://127.0.0.1:${config.api.port}/webhooks/stripe`,
        STRIPE_SANDBOX_WEBHOOK_SECRET: config.stripe.webhookSecret,
      },
    });
  }
  return servers;
}

/**
 * The customers' mail server, when SMTP_URL points at this machine and nothing answers there: MailDev
 * (SMTP on SMTP_URL's port, its web page on MAILDEV_WEB_PORT, default 1080, both on 127.0.0.1), so the
 * e-mails the notify worker sends can be read in a browser.
 */
async function localMailSink(): Promise<ServiceSpec[]> {
  const smtp = new URL(config.notify.email.smtpUrl);
  if (!['127.0.0.1', 'localhost'].includes(smtp.hostname) || (await reachable(smtp.href, 25))) return [];
  const maildev = (await Bun.file(Bun.resolveSync('maildev/package.json', import.meta.dir)).json()) as { bin: Record<string, string> };
  const entry = join(dirname(Bun.resolveSync('maildev/package.json', import.meta.dir)), maildev.bin.maildev!);
  console.log(`[dev] nothing answered at ${redactUrl(smtp.href)}: starting MailDev there; the e-mails sent are at http://127.0.0.1:${Bun.env.MAILDEV_WEB_PORT ?? 1080}`);
  // The notify worker's first e-mail must find it answering, or it waits for EMAIL_RETRY_SCHEDULE_MS's first step.
  const ready = async () => {
    for (const deadline = Date.now() + 30_000; !(await reachable(smtp.href, 25)); await Bun.sleep(100)) {
      if (Date.now() > deadline) throw new Error(`MailDev did not answer at ${redactUrl(smtp.href)} within 30 s`);
    }
  };
  return [{ name: 'mail', entry, args: ['--smtp', smtp.port || '25', '--ip', '127.0.0.1', '--web-ip', '127.0.0.1'], ready }];
}
const dataDir = Bun.env.DEV_DATA_DIR ?? '.data';
const privateServices: PrivateService[] = [];

async function ensureRunning(what: string, url: string, defaultPort: number, start: typeof startPrivateRedis) {
  if (await reachable(url, defaultPort)) return;
  const started = await start(url, dataDir).catch((error: Error) => `Starting a private one failed: ${error.message}`);
  if (typeof started === 'string') {
    await stopPrivate(privateServices);
    exitWith(`Nothing answers at ${redactUrl(url)} (${what}). ${started}`);
  }
  privateServices.push(started);
  console.log(`[dev] nothing answered at ${redactUrl(url)}: started a private ${what} under ${dataDir}/${started.name}`);
}

await ensureRunning('PostgreSQL', config.database.url, 5432, startPrivatePostgres);
await ensureRunning('Redis', config.redisUrl, 6379, startPrivateRedis);

await startOrExit(config, async () => {
  if (await ensureDatabase(config.database.url)) console.log('[dev] created the database');
  await migrateDatabase(config.database.url);
  const { db, close } = createDb(config.database.url, { max: 1 });
  try {
    const seeded = await seedMenu(db);
    if (seeded > 0) console.log(`[dev] seeded ${seeded} menu items`);
  } finally {
    await close();
  }
});
SERVICES.push(...localServers(), ...(await localMailSink()));
console.log(`[dev] starting ${SERVICES.map((s) => s.name).join(', ')}; Ctrl-C stops everything`);
const code = await superviseAll(SERVICES);
await stopPrivate(privateServices);
process.exit(code);
