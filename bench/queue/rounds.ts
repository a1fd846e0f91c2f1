/** What the `bench:queue` orchestrators share: running one contender process, and rating rounds by their median. */
import { forEachLine } from '../../scripts/lib/read-lines.ts';
import type { ContenderResult } from './common.ts';

/** Runs `bench/queue/<file>.ts` with `args` in its own process and returns the result it prints last. */
export async function runContender(file: string, args: string[]): Promise<ContenderResult> {
  const proc = Bun.spawn([process.execPath, new URL(`${file}.ts`, import.meta.url).pathname, ...args], { stdout: 'pipe', stderr: 'inherit' });
  let last = '';
  await forEachLine(proc.stdout, (line) => {
    if (line.trim()) last = line;
  });
  if ((await proc.exited) !== 0) throw new Error(`${file} failed`);
  return JSON.parse(last) as ContenderResult;
}

export function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export const perSecond = (value: number) => `${Math.round(value).toLocaleString('en').padStart(9)}/s`;
