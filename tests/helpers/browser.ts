import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

// Debian's chromium, installed by .ci/run; playwright-core never downloads a browser of its own.
const CHROMIUM = Bun.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Whether a browser test can run here. bash .ci/run installs chromium and fails if it cannot, so CI
 * always runs the browser tests; elsewhere this says why they are skipped.
 */
export function haveBrowser(): boolean {
  const found = existsSync(CHROMIUM);
  if (!found) console.warn(`skipping the browser test: no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  return found;
}

/** Headless chromium with nothing of its own on the network (no sync, updates or QUIC). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
