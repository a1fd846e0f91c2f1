import { afterAll, beforeAll, describe, expect, it } from 'bun:test';
import type { Browser } from 'playwright-core';
import type { OrderView } from '../../src/api/models/order.ts';
import { haveBrowser, launchBrowser } from '../helpers/browser.ts';
import { createPipeline, type Pipeline } from '../helpers/pipeline.ts';
import { killAll, type RunningService } from '../helpers/processes.ts';
import { allowSlowTests } from '../helpers/slow.ts';

allowSlowTests();

const browserHere = haveBrowser();

/**
 * A checkout page: it places an order, then follows it with the browser's own EventSource, as the
 * README shows it. Served by the test on the API's origin (Playwright answers for this one path), so
 * its requests are same-origin.
 */
const PAGE = `<!doctype html><title>order</title><script>
  window.states = [];
  fetch('/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: [{ menuItemId: 4, quantity: 1 }], customerEmail: 'browser@example.com' }) })
    .then((res) => res.json())
    .then((order) => {
      window.events = new EventSource('/orders/' + order.id + '/events');
      window.events.onmessage = (e) => window.states.push({ id: e.lastEventId, order: JSON.parse(e.data) });
    });
</script>`;

let pipeline: Pipeline;
let api: RunningService;
let browser: Browser;

beforeAll(async () => {
  if (!browserHere) return;
  pipeline = await createPipeline('order_events_browser');
  [api] = await Promise.all([
    pipeline.spawn('api'),
    pipeline.spawn('payment', { CONSUMER_NAME: 'payment-events-browser', GATEWAY_LATENCY_MS: '1000' }),
    pipeline.spawn('notify', { CONSUMER_NAME: 'notify-events-browser' }),
  ]);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await killAll();
  await pipeline?.close();
});

describe.skipIf(!browserHere)('following an order in a real browser', () => {
  it("shows each state with the browser's own EventSource, and the browser stops once the order is finished", async () => {
    const origin = `http://127.0.0.1:${api.port}`;
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    const streamAnswers: number[] = [];
    page.on('response', (response) => {
      if (/\/orders\/[^/]+\/events$/.test(response.url())) streamAnswers.push(response.status());
    });
    await page.route(`${origin}/checkout.html`, (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
    await page.goto(`${origin}/checkout.html`);

    // The order is finished once its e-mail is sent; then the server ends the stream, the browser
    // reconnects with the last id, is answered 204 and gives up: EventSource.CLOSED.
    await page.waitForFunction(() => (globalThis as any).states.at(-1)?.order.notifiedAt, undefined, { timeout: 15_000 });
    await page.waitForFunction(() => (globalThis as any).events.readyState === 2 /* EventSource.CLOSED */, undefined, { timeout: 15_000 });
    const states = (await page.evaluate(() => (globalThis as any).states)) as { id: string; order: OrderView }[];

    expect(states[0]!.order).toMatchObject({ status: 'processing', payment: null, customerEmail: 'b***@example.com' });
    expect(states.at(-1)!.order).toMatchObject({ status: 'paid', deliveries: [expect.objectContaining({ channel: 'email', status: 'sent' })] });
    expect(states.map(({ order }) => order.status)).toEqual(['processing', ...Array(states.length - 1).fill('paid')]);
    expect(new Set(states.map((state) => state.id)).size).toBe(states.length);
    expect(streamAnswers).toEqual([200, 204]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
