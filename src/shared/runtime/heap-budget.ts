/**
 * The RAM each service's JavaScriptCore sizes its garbage collection by: `BUN_JSC_forceRAMSize`, in
 * bytes, Bun's counterpart of Node's `--max-old-space-size` (an input to the collector's heuristics,
 * not a hard cap). Left alone, JSC takes the machine's RAM, and on this 24 GiB machine a saturated
 * API let its garbage pile up to a peak RSS of 144-147 MB; told any size up to 8 GiB, it collected
 * sooner and peaked at 129-132 MB, at the same throughput (docs/performance.md, "Memory"). 512 MiB is a
 * service's budget in a container. It is read at start-up, before any of our code runs, so it is set
 * where the services are started: package.json's scripts (so `bun run api` and compose; a value in
 * the environment wins there), `bun run dev`, and the processes the tests, chaos and the bench spawn.
 */
export const HEAP_BUDGET_BYTES = 512 * 1024 * 1024;

/** The variable that carries it. */
export const HEAP_BUDGET_VARIABLE = 'BUN_JSC_forceRAMSize';

/** `env` with the budget added, unless it names one of its own. */
export function withHeapBudget<Env extends Record<string, string | undefined>>(env: Env): Env {
  return env[HEAP_BUDGET_VARIABLE] ? env : { ...env, [HEAP_BUDGET_VARIABLE]: String(HEAP_BUDGET_BYTES) };
}
