import type { BatchItem, BatchResult } from './batch-item.ts';
import type { Entry } from './commands.ts';
import type { ConsumerOptions } from './consumer-options.ts';
import type { ConsumerCounts } from './consumer-status.ts';
import { createEntrySettler, type Handed, type SettlerWiring } from './entry-settler.ts';
import { decideClaimed } from './failure-policy.ts';
import type { HeldCounts, RunnerEvent } from './runner-machine.ts';
import { fieldsToRecord } from './stream-id.ts';

/** How the dispatcher and the read loop (consumer.ts) talk. */
export interface DispatcherWiring extends Omit<SettlerWiring, 'keep'> {
  /** Entries left memory: the loop may read again, or finish draining. */
  left: () => void;
}

export interface Dispatcher {
  /** What is held, live: the machine's view, and the consumer's `inflight`. */
  readonly held: HeldCounts;
  readonly counts: Readonly<ConsumerCounts>;
  /** Takes entries into memory: those delivered too often are dead-lettered, the rest run. */
  take(entries: Entry[]): void;
  /** Like take, but taken at `release()`: counted as held at once, so no read asks for their room. */
  hold(entries: Entry[]): void;
  release(): void;
  /** Takes the entries XAUTOCLAIM returned but those held already; returns how many were new. */
  takeClaimed(entries: Entry[]): number;
  /** The entries being worked on (read ahead or running), whose claim the claim keeper extends. */
  workingIds(): string[];
  isWorking(id: string): boolean;
  /** Held entries another consumer claimed (see claim-keeper.ts). */
  lost(ids: string[]): void;
  /** Up to `count` entries awaiting a retry, oldest first. */
  awaitingFirst(count: number): Entry[];
  /** Of `entries` (from awaitingFirst), those still `owned` run again, the rest leave memory; returns how many left. */
  retry(entries: Entry[], owned: Set<string>): number;
  /** Lets go of the entries awaiting a retry: they stay pending in Redis for another consumer. */
  letGoAwaiting(): void;
  /** Entries read ahead or running. */
  unfinished(): number;
}

const SUCCEEDED: RunnerEvent = Object.freeze({ type: 'succeeded' });

/**
 * Runs handlers on held entries, at most `concurrency` entries at once, in batches of up to
 * `batchSize` (a per-entry `handle` is a batch of one); entry-settler.ts settles each entry after.
 *
 * It keeps the one record of what is in memory (`held`, with the queue, the running count and the
 * awaiting entries as its parts); the read loop's machine sees its counts, never a copy of them.
 */
export function createDispatcher<Message>(options: ConsumerOptions<Message>, wiring: DispatcherWiring): Dispatcher {
  const { concurrency, maxDeliveries, tracing: hook } = options;
  const { log } = wiring;
  const handle = options.handle;
  const handleBatch = options.handleBatch ?? ((batch: BatchItem<Message>[]) => handle!(batch[0]!.message, batch[0]!.meta));
  const batchSize = handle ? 1 : options.batchSize;

  // What is in memory: what `hold` took and `release` has not let in yet (`arrived`), and every entry
  // let in (`held`), so our own XAUTOCLAIM, which also returns entries we have been working on longer
  // than CLAIM_IDLE_MS, never hands us one a second time. Of those, the queue waiting for a slot, the
  // running entries (counted), and those that failed while a dependency was away (still pending for
  // us, retried once it is back).
  let arrived: Entry[] = [];
  const held = new Set<string>();
  const queue: Entry[] = [];
  let running = 0;
  const awaiting = new Map<string, Entry>();
  let dispatching = false;
  const settler = createEntrySettler(options, { ...wiring, keep: (entry) => awaiting.set(entry.id, entry) });

  /** An entry left memory: acknowledged (`ok`), dead-lettered, left pending, or claimed by another consumer. */
  function leave(id: string, ok: boolean) {
    held.delete(id);
    if (ok) wiring.report(SUCCEEDED);
    wiring.left();
  }

  async function failed(handed: Handed<Message>, error: unknown, batch: number) {
    if ((await settler.failed(handed, error, batch)) === 'left') leave(handed.entry.id, false);
  }

  function succeeded(batch: Handed<Message>[], started: number) {
    settler.succeeded(batch, started);
    for (const { entry } of batch) held.delete(entry.id);
    // One machine event and one wake for the batch, not one per entry.
    wiring.report(SUCCEEDED);
    wiring.left();
  }

  async function runBatch(entries: Entry[]): Promise<void> {
    try {
      const started = performance.now();
      const batch: Handed<Message>[] = [];
      for (const entry of entries) {
        const decoded = settler.decode(entry);
        if (decoded === 'acknowledged') {
          leave(entry.id, true);
        } else if (decoded instanceof Promise) {
          // An invalid entry is dead-lettered before the handler sees the rest, one at a time.
          await decoded;
          leave(entry.id, false);
        } else {
          batch.push(decoded);
        }
      }
      if (batch.length === 0) return;
      let result: BatchResult | void;
      // A batch handler gets its own array: what it does to it cannot change which entries are settled
      // below. `handle`, wrapped above, only reads its one item: no array more per entry for it.
      const items = handle ? batch : batch.slice();
      try {
        result = await (hook
          ? hook.process(
              batch.map(({ entry, fields }) => ({ id: entry.id, deliveries: entry.deliveries, fields })),
              () => handleBatch(items),
            )
          : handleBatch(items));
      } catch (error) {
        for (const handed of batch) await failed(handed, error, batch.length);
        return;
      }
      // Every entry succeeded: the common case.
      if (!result?.failed?.length) return succeeded(batch, started);
      const failures = new Map(result.failed.map(({ id, error }) => [id, error]));
      const ok = batch.filter(({ entry }) => !failures.has(entry.id));
      if (ok.length > 0) succeeded(ok, started);
      for (const handed of batch) if (failures.has(handed.entry.id)) await failed(handed, failures.get(handed.entry.id), 1);
    } finally {
      // Here, not in a .finally() around the call: that is one more promise and closure per batch.
      running -= entries.length;
      dispatch();
    }
  }

  /** Hands queued entries to the handler while fewer than `concurrency` run. */
  function dispatch() {
    // A batch that needs no handler (deleted entries, say) finishes inside runBatch's call below and
    // dispatches again: the loop already running here takes its slots, rather than a call nested per batch.
    if (dispatching) return;
    dispatching = true;
    try {
      while (running < concurrency && queue.length > 0) {
        const size = Math.min(queue.length, concurrency - running, batchSize);
        running += size;
        // shift() for a batch of one: no splice bookkeeping per entry.
        void runBatch(size === 1 ? [queue.shift()!] : queue.splice(0, size));
      }
    } finally {
      dispatching = false;
    }
  }

  function admit(entries: Entry[]) {
    for (const entry of entries) {
      if (decideClaimed(entry.deliveries, maxDeliveries) === 'dead-letter') {
        const fields = entry.flat ? fieldsToRecord(entry.flat) : {};
        const reason = `delivered ${entry.deliveries} times without being acknowledged (consumers crashed or timed out on it)`;
        void settler.toDeadLetter(entry, fields, reason).finally(() => leave(entry.id, false));
      } else {
        queue.push(entry);
      }
    }
    dispatch();
  }

  function take(entries: Entry[]) {
    for (const entry of entries) held.add(entry.id);
    admit(entries);
  }

  return {
    held: {
      get held() {
        return held.size + arrived.length;
      },
      get awaiting() {
        return awaiting.size;
      },
    },
    counts: settler.counts,
    take,
    hold(entries) {
      if (arrived.length === 0) arrived = entries;
      else arrived.push(...entries);
    },
    // Into the set only now: a full read's adds, done before the next command went out, would delay it.
    release() {
      if (arrived.length === 0) return;
      const entries = arrived;
      arrived = [];
      take(entries);
    },
    takeClaimed(entries) {
      const fresh = entries.filter((entry) => !held.has(entry.id));
      if (fresh.length > 0) settler.claimed(fresh.length);
      take(fresh);
      return fresh.length;
    },
    // Only entries being worked on: those awaiting a dependency are nobody's work until it is back, so
    // another consumer (whose dependency may answer) is free to take them.
    workingIds: () => (awaiting.size === 0 ? [...held] : [...held].filter((id) => !awaiting.has(id))),
    isWorking: (id) => held.has(id) && !awaiting.has(id),
    /**
     * Held entries that are no longer pending for us: another consumer claimed them while we were silent
     * past CLAIM_IDLE_MS (or the group was recreated). One not started yet is dropped, since its new owner
     * runs it; one running finishes, and its XACK (which Redis accepts from any consumer) settles it for
     * both, the handlers' idempotency absorbing the second run.
     */
    lost(ids) {
      let dropped = 0;
      for (const id of ids) {
        const index = queue.findIndex((entry) => entry.id === id);
        if (index < 0) continue;
        queue.splice(index, 1);
        dropped++;
        leave(id, false);
      }
      log.warn({ entries: ids.length, dropped, still_running: ids.length - dropped, entry_ids: ids.slice(0, 20) }, 'entries this consumer held were claimed by another consumer');
    },
    awaitingFirst: (count) => [...awaiting.values()].slice(0, count),
    retry(entries, owned) {
      let lost = 0;
      for (const entry of entries) {
        // Let go meanwhile (a stop, while the ownership check was on the wire): it stays let go.
        if (!awaiting.delete(entry.id)) continue;
        if (owned.has(entry.id)) {
          queue.push(entry);
        } else {
          held.delete(entry.id);
          lost++;
        }
      }
      dispatch();
      return lost;
    },
    letGoAwaiting() {
      for (const id of awaiting.keys()) held.delete(id);
      awaiting.clear();
    },
    unfinished: () => running + queue.length,
  };
}
