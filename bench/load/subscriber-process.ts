/**
 * The subscribers of `bun run bench --subscribers N`, as a process of their own (started by
 * subscribers.ts with BUN_CONFIG_MAX_HTTP_REQUESTS raised: Bun's fetch holds 256 requests at once by
 * default), two kinds of clients of GET /orders/{id}/events:
 *
 * - N watchers, each holding a stream open the whole run on a parked order of its own (inserted here,
 *   with no event: nothing happens to it, its stream only gets keep-alives), as customers whose orders
 *   wait on something slower than this pipeline (a kitchen): the N open streams;
 * - customers: each order of the load followed by one client, from its state at connection to its end,
 *   oldest first among those not notified yet (the ones the pipeline works on next), N / 10 at most at
 *   once (a saturated pipeline's backlog would otherwise take thousands).
 *
 * For each message that brings a payment outcome or a sent delivery, the delay from that change's
 * commit (payment_attempts.created_at, deliveries.sent_at: PostgreSQL's clock, the same machine) to
 * its arrival here. Prints `{"watchersOpen"}` once every watcher's stream is open, and on SIGTERM its
 * figures, each as one JSON line.
 */
import { createParser } from 'eventsource-parser';
import postgres from 'postgres';
import type { OrderView } from '../../src/api/models/order.ts';

const baseUrl = Bun.env.SUBSCRIBERS_BASE_URL!;
const count = Number(Bun.env.SUBSCRIBERS_COUNT);
const sql = postgres(Bun.env.SUBSCRIBERS_DATABASE_URL!, { max: 1, onnotice: () => {} });

const latenciesMs: number[] = [];
const refused: Record<string, number> = {};
let opened = 0;
let followedLive = 0;
let open = 0;
let customersOpen = 0;
let messages = 0;
let errors = 0;
let stopping = false;
const openSamples: number[] = [];
const customerSamples: number[] = [];
const aborts = new Set<AbortController>();
const customers = Math.max(1, Math.floor(count / 10));

// One parked order per watcher: never announced, never charged, so its stream only gets keep-alives.
const parked = (
  await sql<{ id: string }[]>`
    insert into orders (id, customer_email, total_cents, request_id)
    select gen_random_uuid(), 'parked@example.com', 0, 'bench-parked' from generate_series(1, ${count})
    returning id`
).map((row) => row.id);

/** Orders of the load to follow, oldest first; each handed out once. */
const handedOut = new Set<string>();
const queue: string[] = [];
// Idle customers wait on `arrival`, settled each time orders are queued (one promise for all, not a timer each).
let orderArrived = () => {};
let arrival = new Promise<void>((resolve) => (orderArrived = resolve));
let stop = () => {};
const stopped = new Promise<void>((resolve) => (stop = resolve));

// Where the last read stopped: the orders placed since, in created_at order, an index range
// (orders_created_at_status_idx) however many orders wait. Asked with `notified_at is null`, PostgreSQL
// picks the partial index of unfinished orders instead, and reads every one of them, the parked ones
// included, forty times a second: the bench's own load on the database it measures.
let cursor = new Date();
let refilling = false;
async function refill() {
  if (refilling || queue.length >= customers) return;
  refilling = true;
  try {
    const rows = await sql<{ id: string; created_at: Date; notified: boolean; ours: boolean }[]>`
      select id, created_at, notified_at is not null as notified, customer_email like 'bench%@example.com' as ours
      from orders where created_at > ${cursor} order by created_at limit ${customers * 4}`;
    // Up to `customers` queued, as before; the cursor stops at the last order looked at.
    for (const row of rows) {
      if (queue.length >= customers) break;
      cursor = row.created_at;
      if (row.notified || !row.ours || handedOut.has(row.id)) continue;
      handedOut.add(row.id);
      queue.push(row.id);
    }
    if (queue.length > 0) {
      const wake = orderArrived;
      arrival = new Promise<void>((resolve) => (orderArrived = resolve));
      wake();
    }
  } finally {
    refilling = false;
  }
}

/** The changes a message brings, each with its commit time. */
function changesIn(previous: OrderView, current: OrderView): number[] {
  const committed: number[] = [];
  if (!previous.payment && current.payment) committed.push(Date.parse(current.payment.processedAt));
  for (const delivery of current.deliveries) {
    const before = previous.deliveries.find((d) => d.channel === delivery.channel);
    if (delivery.sentAt && !before?.sentAt) committed.push(Date.parse(delivery.sentAt));
  }
  return committed;
}

// Said once on stdout when every watcher's stream is open: the load starts after, so the measured run
// has its N streams open throughout, not N clients connecting at once in its first seconds.
// (By order: a watcher that opens its stream again after it ended counts once.)
const watchersOpened = new Set<string>();
function watcherOpened(orderId: string) {
  if (watchersOpened.size === count || watchersOpened.add(orderId).size < count) return;
  console.log(JSON.stringify({ watchersOpen: count }));
}

/** Follows one order until its stream ends (true) or the run does. */
async function follow(orderId: string, { customer }: { customer: boolean }): Promise<boolean> {
  const abort = new AbortController();
  aborts.add(abort);
  let counted = false;
  try {
    const res = await fetch(`${baseUrl}/orders/${orderId}/events`, { signal: abort.signal });
    if (res.status !== 200) {
      refused[res.status] = (refused[res.status] ?? 0) + 1;
      await res.body?.cancel();
      // Refused (503 past SSE_MAX_CONNECTIONS): wait as Retry-After says.
      await Bun.sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
      return false;
    }
    opened++;
    if (customer) followedLive++;
    open++;
    if (!customer) watcherOpened(orderId);
    if (customer) customersOpen++;
    counted = true;
    let previous: OrderView | undefined;
    const parser = createParser({
      onEvent(event) {
        const arrived = Date.now();
        messages++;
        const order = JSON.parse(event.data) as OrderView;
        if (previous) for (const committed of changesIn(previous, order)) latenciesMs.push(arrived - committed);
        previous = order;
      },
    });
    // Read and decoded here, not through a TextDecoderStream: a pipe is one more stream, and more
    // promise turns, between the socket and the parser, in the clock of every message.
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) parser.feed(decoder.decode(chunk, { stream: true }));
    return true;
  } catch (error) {
    // Stopping ends the read with an AbortError: that is no error.
    if (!abort.signal.aborted) {
      errors++;
      if (errors <= 3) console.error(`stream of ${orderId}: ${(error as Error).message}`);
    }
    return false;
  } finally {
    if (counted) open--;
    if (counted && customer) customersOpen--;
    aborts.delete(abort);
  }
}

async function watcher(i: number) {
  while (!stopping) {
    await follow(parked[i]!, { customer: false });
    // A watcher's stream ends only if something is wrong (or the reconciler picked its parked order up after RECONCILE_AFTER_MS): not again at once.
    if (!stopping) await Bun.sleep(1000);
  }
}

async function customer() {
  while (!stopping) {
    const orderId = queue.shift();
    if (orderId) await follow(orderId, { customer: true });
    else await Promise.race([arrival, stopped]);
  }
}

// Often, so a customer is on its order before the pipeline is through with it.
const poller = setInterval(() => void refill().catch((error: Error) => console.error(`refill: ${error.message}`)), 25);
const sampler = setInterval(() => {
  openSamples.push(open);
  customerSamples.push(customersOpen);
}, 250);
const running = Promise.all([...Array.from({ length: count }, (_, i) => watcher(i)), ...Array.from({ length: customers }, customer)]);

process.on('SIGTERM', async () => {
  stopping = true;
  stop();
  clearInterval(poller);
  clearInterval(sampler);
  for (const abort of aborts) abort.abort();
  await running;
  await sql.end();
  console.log(JSON.stringify({ opened, followedLive, refused, errors, messages, latenciesMs, openSamples, customerSamples }));
  process.exit(0);
});
