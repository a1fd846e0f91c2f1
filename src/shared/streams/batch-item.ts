import type { ProcessingHook } from './processing-hook.ts';

export interface MessageMeta {
  /** The entry id in the stream. */
  id: string;
  /** 1 on first delivery; more when the entry was claimed from a consumer that failed or died. */
  deliveries: number;
  /** 1 on the first attempt; n when n-1 attempts failed and it came back from the retry schedule. */
  attempt?: number;
}

/** One valid entry of a batch. */
export interface BatchItem<Message> {
  readonly message: Message;
  readonly meta: MessageMeta;
  /**
   * Runs `work` in this entry's context, as the consumer's processing hook defines it: with tracing on,
   * inside the entry's span, so the spans `work` starts (a charge, a publish) and the lines it logs
   * belong to the entry's trace, with no tracing import in the handler. Without a hook, just runs it.
   */
  run<T>(work: () => T): T;
}

/** What a batch handler may say about single entries; every entry not named here is acknowledged. */
export interface BatchResult {
  failed?: { id: string; error: unknown }[];
}

/**
 * A batch item whose `run` goes through the consumer's processing hook. A class, so `run` is one
 * function on the prototype rather than a closure per entry; the dispatcher's own record of a handed
 * entry extends it (entry-settler.ts), so an entry costs one object, not two.
 */
export class ItemInContext<Message> implements BatchItem<Message> {
  readonly message: Message;
  readonly meta: MessageMeta;
  readonly #hook: ProcessingHook | undefined;

  constructor(message: Message, meta: MessageMeta, hook: ProcessingHook | undefined) {
    this.message = message;
    this.meta = meta;
    this.#hook = hook;
  }

  run<T>(work: () => T): T {
    return this.#hook ? this.#hook.within(this.meta.id, work) : work();
  }
}

/**
 * The item a handler gets for one entry; `hook` is the consumer's, which gives `run` the entry's
 * context. Tests build items with it to call a handler directly (no hook: `run` just runs).
 */
export function batchItem<Message>(message: Message, meta: MessageMeta, hook?: ProcessingHook): BatchItem<Message> {
  return new ItemInContext(message, meta, hook);
}
