/** An entry as the consumer holds it. */
export interface Entry {
  id: string;
  /** The entry's fields as Redis returns them; null when the entry was deleted while pending. */
  flat: string[] | null;
  deliveries: number;
}

/**
 * Bounded concurrency with read-ahead: at most `concurrency` entries run at once, and up to
 * `bufferSize` more wait, read already, so the next XREADGROUP overlaps with processing. The loop
 * reads again once half the buffer is free (not per freed slot, which would cost a round trip per
 * entry), and `roomFrees()` wakes it then.
 */
export function createWorkSlots({ concurrency, bufferSize, run }: { concurrency: number; bufferSize: number; run: (entry: Entry) => Promise<void> }) {
  const inflight = new Set<Promise<void>>();
  const waiting: Entry[] = [];
  // Ids waiting or in flight: our own XAUTOCLAIM must not hand them to us a second time.
  const held = new Set<string>();
  const readWhenRoom = Math.max(1, Math.ceil(bufferSize / 2));
  let roomFreed: (() => void) | undefined;

  const room = () => bufferSize - waiting.length;

  function track(work: Promise<void>) {
    inflight.add(work);
    void work.finally(() => {
      inflight.delete(work);
      dispatch();
    });
  }

  function dispatch() {
    while (inflight.size < concurrency && waiting.length > 0) {
      const entry = waiting.shift()!;
      track(run(entry).finally(() => held.delete(entry.id)));
    }
    if (roomFreed && room() >= readWhenRoom) roomFreed();
  }

  return {
    /** How many entries the next read may fetch. */
    room,
    /** Whether the buffer is too full to read now. */
    full: () => room() < readWhenRoom,
    holds: (id: string) => held.has(id),
    /** Queues read entries; call start() after a batch. */
    hold(entry: Entry) {
      held.add(entry.id);
      waiting.push(entry);
    },
    start: dispatch,
    /** Work that is not an entry of the stream (dead-lettering a claimed entry) but should be waited for on stop. */
    track,
    /** Resolves when there is room to read again (or release() is called). */
    roomFrees: () =>
      new Promise<void>((resolve) => {
        roomFreed = () => {
          roomFreed = undefined;
          resolve();
        };
      }),
    release: () => roomFreed?.(),
    /** Waits until nothing runs or waits any more. */
    async drained() {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
    size: () => inflight.size + waiting.length,
  };
}
