import { setDefaultTimeout } from 'bun:test';

/**
 * Call at the top of a test file whose tests start processes or wait on real services. The outer
 * bound only; each test waits on its own conditions with their own deadlines. It has to be per file:
 * bun keeps the default timeout per file (a preload's call reaches only the first), and bunfig's
 * [test] timeout is not read (checked on Bun 1.4.5).
 */
export function allowSlowTests(ms = 60_000): void {
  setDefaultTimeout(ms);
}
