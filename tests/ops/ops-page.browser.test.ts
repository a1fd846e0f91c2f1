import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Browser } from 'playwright-core';
import { haveBrowser, launchBrowser } from '../helpers/browser.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, spawnService } from '../helpers/processes.ts';
import { freePort } from '../helpers/redis.ts';
import { allowSlowTests } from '../helpers/slow.ts';
import { deadLetterAnOrder, fixMissingOrder } from './dead-letter-helpers.ts';

allowSlowTests();

const TOKEN = 'browser-test-admin-token-42';
// The screenshot in docs/operating.md: refreshed with UPDATE_SCREENSHOT=1, so a plain `bun test` leaves the tree clean.
const SCREENSHOT = Bun.env.UPDATE_SCREENSHOT ? new URL('../../docs/ops-page.png', import.meta.url).pathname : `${tmpdir()}/ops-page-${process.pid}.png`;

let pipeline: Pipeline;
let browser: Browser;
let apiPort: number;

const browserHere = haveBrowser();

beforeAll(async () => {
  if (!browserHere) return;
  pipeline = await createPipeline('ops_page');
  apiPort = await freePort();
  const api = spawnService('api', pipeline.env({ PORT: String(apiPort), ADMIN_TOKEN: TOKEN }));
  spawnService('payment', pipeline.env({ CONSUMER_NAME: 'payment-browser' }));
  spawnService('notify', pipeline.env({ CONSUMER_NAME: 'notify-browser' }));
  await api.waitForLine((l) => l.msg === 'api listening', 'listening');
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await killAll();
  await pipeline?.close();
});

describe.skipIf(!browserHere)('the operations page in a real browser', () => {
  it('shows a dead-lettered entry, and replaying it through the page moves the order on', async () => {
    const { id: paidId } = await pipeline.placeOrder('browser@example.com');
    await pipeline.waitUntilSettled([paidId]);
    const { orderId, letterId } = await deadLetterAnOrder(pipeline);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    await page.goto(`http://127.0.0.1:${apiPort}/ops`);

    const row = page.locator(`#dead-letters tr[data-id="${letterId}"]`);
    await row.waitFor({ timeout: 15_000 });
    // No token yet: the order under one opaque label in its reason and its fields, never its id.
    const [, label] = (await row.locator('td.error').textContent())!.match(/order (ord_[0-9a-f]{12}) does not exist/) ?? [];
    expect(label).toBeDefined();
    expect(await row.locator('td.fields').textContent()).toContain(`orderId=${label}`);
    await page.locator('#streams tbody tr').first().waitFor();
    expect(await page.locator('#streams').textContent()).toContain('payment-service');
    // The worker under an opaque label, no customer address anywhere.
    await page.locator('#cards', { hasText: 'breaker of consumer-' }).waitFor({ timeout: 10_000 });
    const shown = (await page.locator('body').textContent())!;
    expect(shown).not.toContain('payment-browser');
    expect(shown).not.toContain(orderId);
    expect(shown).not.toContain('late@example.com');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);

    // With the token the page's own poll sends it, and the full dead letter and worker name appear.
    await page.fill('#token', TOKEN);
    await page.locator('#cards', { hasText: 'breaker of payment-browser' }).waitFor({ timeout: 10_000 });
    await row.locator('td.fields', { hasText: `orderId=${orderId}` }).waitFor({ timeout: 10_000 });
    expect(await row.locator('td.error').textContent()).toContain(`order ${orderId} does not exist`);

    await fixMissingOrder(pipeline, orderId);
    await row.locator('button.replay').click();
    await page.locator('#message', { hasText: `Replayed ${letterId}` }).waitFor({ timeout: 10_000 });
    await pipeline.waitUntilSettled([orderId]);
    expect((await pipeline.orderState(orderId)).status).toBe('paid');
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('refuses a replay with a wrong token and keeps the entry', async () => {
    const { letterId } = await deadLetterAnOrder(pipeline);
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${apiPort}/ops`);
    const row = page.locator(`#dead-letters tr[data-id="${letterId}"]`);
    await row.waitFor({ timeout: 15_000 });
    await page.fill('#token', 'not-the-token');
    await row.locator('button.replay').click();
    await page.locator('#message', { hasText: '401 unauthorized' }).waitFor({ timeout: 10_000 });
    expect((await pipeline.deadLetters('payment.dlq')).some((l) => l.id === letterId)).toBe(true);
    await page.close();
  });
});
