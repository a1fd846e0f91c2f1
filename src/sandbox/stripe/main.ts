import pino from 'pino';
import { loadSandboxConfig, SandboxConfigError, type SandboxSettings } from './config.ts';
import { startStripeSandbox } from './sandbox.ts';

/**
 * `bun run stripe-sandbox`: a local server speaking Stripe's API for the PaymentIntents our payment
 * worker uses (docs/stripe-sandbox.md). The only file of the sandbox that reads the environment or
 * handles signals.
 */
const log = pino({ base: { service: 'stripe-sandbox' } });

function settingsOrExit(): SandboxSettings {
  try {
    return loadSandboxConfig(Bun.env);
  } catch (error) {
    if (!(error instanceof SandboxConfigError)) throw error;
    log.error({ problems: error.problems }, error.message);
    process.exit(2);
  }
}

const settings = settingsOrExit();
const sandbox = startStripeSandbox(settings, { log });
log.info(
  { port: sandbox.port, url: sandbox.url, db: settings.dbPath, webhook_urls: settings.webhooks.urls, faults: settings.faults },
  `stripe-sandbox listening on ${sandbox.url}`,
);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    // Deliveries cut short stay pending in the store: the next start sends them.
    void sandbox.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'stripe-sandbox did not stop cleanly');
        process.exit(1);
      },
    );
  });
}
