export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Says what we were waiting for when it times out. */
  what?: string;
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/** Thrown from a probe to stop waiting at once (the thing waited for can no longer happen). */
export class GiveUp extends Error {}

/**
 * Polls `probe` until it returns something truthy (which is returned) or the deadline passes.
 * Tests wait on a condition, never on a fixed sleep.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, { timeoutMs = 10_000, intervalMs = 20, what }: WaitOptions = {}): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as Truthy<T>;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what ?? 'condition'}`, { cause: lastError });
    }
    await Bun.sleep(intervalMs);
  }
}
