import type { LoadOutcome } from './load-outcome.ts';
import type { PipelineFigures } from './pipeline-figures.ts';

export interface RateStep {
  rate: number;
  load: LoadOutcome;
  pipeline: PipelineFigures;
  kept: boolean;
}

/** What "the pipeline keeps up with this rate" means for one step. */
export interface KeepUp {
  /** Share of the scheduled orders the API must have accepted. */
  acceptedShare: number;
  /** Every order notified within this (p99), so no backlog was building. */
  toNotifiedP99Ms: number;
}

export const KEEP_UP: KeepUp = { acceptedShare: 0.97, toNotifiedP99Ms: 500 };

export function keptUp(rate: number, load: LoadOutcome, pipeline: PipelineFigures, keepUp = KEEP_UP): boolean {
  return load.created >= keepUp.acceptedShare * rate * load.seconds && pipeline.unfinished === 0 && pipeline.toNotifiedMs.p99 <= keepUp.toNotifiedP99Ms;
}

/**
 * The highest rate the whole pipeline keeps up with, by bisection between a rate known to be kept
 * (`low`: what it notified under a saturating closed loop, when the API took more CPU than it would
 * at that rate) and one that cannot be (`high`). A rate above capacity builds a backlog, and over a
 * step of s seconds x % too much leaves the last orders waiting about x % of s: with 20 s steps a
 * to-notified p99 of 500 ms lets through at most about 2.5 % too much. Stops after `maxSteps` or when
 * the interval is within `resolution` (a share of `low`).
 */
export async function maxKeptRate(
  low: number,
  high: number,
  runAt: (rate: number) => Promise<{ load: LoadOutcome; pipeline: PipelineFigures }>,
  { maxSteps = 5, resolution = 0.03, keepUp = KEEP_UP }: { maxSteps?: number; resolution?: number; keepUp?: KeepUp } = {},
): Promise<{ rate: number; steps: RateStep[] }> {
  const steps: RateStep[] = [];
  let kept = Math.floor(low);
  let notKept = Math.ceil(high);
  while (steps.length < maxSteps && notKept - kept > resolution * kept) {
    const rate = Math.round((kept + notKept) / 2);
    const { load, pipeline } = await runAt(rate);
    const ok = keptUp(rate, load, pipeline, keepUp);
    steps.push({ rate, load, pipeline, kept: ok });
    console.log(`  ${rate} orders/s: ${Math.round(load.created / load.seconds)} accepted/s, to notified p99 ${pipeline.toNotifiedMs.p99.toFixed(0)} ms: ${ok ? 'kept up' : 'fell behind'}`);
    if (ok) kept = rate;
    else notKept = rate;
  }
  if (!steps.some((step) => step.kept)) {
    // Nothing above `low` was kept: check `low` itself rather than assume it.
    const { load, pipeline } = await runAt(kept);
    steps.push({ rate: kept, load, pipeline, kept: keptUp(kept, load, pipeline, keepUp) });
  }
  return { rate: kept, steps };
}
