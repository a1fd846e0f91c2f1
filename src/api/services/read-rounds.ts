export interface ReadRoundsOptions<K, V> {
  /** Reads several keys in one go; a key left out of the answer has no value. */
  read: (keys: K[]) => Promise<Map<K, V>>;
  /** Most keys one round reads; the rest wait for the next. */
  maxPerRound: number;
  /** Whether a key nobody waits for is still worth reading when its round comes. */
  wanted: (key: K) => boolean;
  /** What a round read, key by key, before any waiter is told. */
  onRead: (key: K, value: V | undefined) => void;
  /** A round's read failed: its keys, and why (their waiters are rejected with it). */
  onFailed: (keys: K[], error: unknown) => void;
}

interface Waiter<V> {
  resolve: (value: V | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Reads keys in rounds, one round at a time: every key asked for before a round starts is read in it,
 * in one call, however many asked; a key asked for while a round runs is read in the next one. So a
 * read of a key always starts after it was asked for, and two reads of one key never overlap: what
 * they return comes in order. (A DataLoader batches per tick but lets batches overlap, which would let
 * an older read of a key land after a newer one.)
 */
export function createReadRounds<K, V>({ read, maxPerRound, wanted, onRead, onFailed }: ReadRoundsOptions<K, V>) {
  /** Keys for the next round, each with whoever waits for what it reads. */
  const due = new Map<K, Waiter<V>[]>();
  let running: Promise<void> | undefined;

  function ask(key: K, waiter?: Waiter<V>) {
    const waiters = due.get(key) ?? [];
    if (waiter) waiters.push(waiter);
    due.set(key, waiters);
    running ??= rounds();
  }

  async function rounds(): Promise<void> {
    try {
      // The first round waits for the rest of this step: keys asked for together (a batch of changes) are read together.
      await Promise.resolve();
      while (due.size > 0) await round();
    } finally {
      // In the same step as the last look at `due`: a key asked for from now on starts the rounds again.
      running = undefined;
    }
  }

  async function round(): Promise<void> {
    const batch = [...due].slice(0, maxPerRound);
    for (const [key] of batch) due.delete(key);
    const keys = batch.filter(([key, waiters]) => waiters.length > 0 || wanted(key));
    if (keys.length === 0) return;
    let values: Map<K, V>;
    try {
      values = await read(keys.map(([key]) => key));
    } catch (error) {
      onFailed(keys.map(([key]) => key), error);
      for (const [, waiters] of keys) for (const waiter of waiters) waiter.reject(error);
      return;
    }
    for (const [key, waiters] of keys) {
      const value = values.get(key);
      onRead(key, value);
      for (const waiter of waiters) waiter.resolve(value);
    }
  }

  return {
    /** Reads the key in the next round and resolves with what it read. */
    next: (key: K) => new Promise<V | undefined>((resolve, reject) => ask(key, { resolve, reject })),
    /** Reads the key in the next round; nobody waits for it. */
    schedule: (key: K) => ask(key),
  };
}
