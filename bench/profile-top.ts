/**
 * The top of a `bun --cpu-prof` profile (e.g. from `bun run bench --profile DIR`), by self time:
 *
 *   bun bench/profile-top.ts /tmp/prof/01-api.cpuprofile [--top 25]
 *
 * Prints the share of samples in each function (self); the same with native frames (socket writes,
 * JSON, Buffer) charged to their nearest caller that has a source file, by package or source folder;
 * and the share of samples whose stack passes through each package or folder (inclusive), so "how
 * much of the API is postgres.js, Elysia, pino, our own code" is one look.
 */
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ args: Bun.argv.slice(2), allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
if (positionals.length !== 1) throw new Error('usage: bun bench/profile-top.ts <file.cpuprofile> [--top N]');
const profile = (await Bun.file(positionals[0]!).json()) as Profile;

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

/** node_modules/<package>, src/<folder>, or what the url is (native code has none). */
function area(url: string): string {
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1];
  if (pkg) return pkg;
  const own = url.match(/\/(src\/[^/]+(?:\/[^/]+)?)\//)?.[1];
  if (own) return own;
  return url ? url.replace(/^.*\//, '') : '(native / runtime)';
}

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const owner = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const micros = profile.timeDeltas[i] ?? 0;
  total += micros;
  const node = byId.get(id)!;
  const name = node.callFrame.functionName || '(anonymous)';
  const key = name === '(idle)' || name === '(program)' || name === '(garbage collector)' ? name : `${name}  ${area(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + micros);
  // Each area once per sample, however deep it recurs.
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)!.callFrame;
    if (frame.functionName === '(root)') continue;
    seen.add(area(frame.url));
  }
  for (const a of seen) inclusive.set(a, (inclusive.get(a) ?? 0) + micros);
  // Native frames (socket writes, JSON, Buffer) charged to the nearest caller with a source file.
  let at: number | undefined = id;
  while (at !== undefined && !byId.get(at)!.callFrame.url) at = parent.get(at);
  const charged = at === undefined ? key.startsWith('(') && !key.includes(' ') ? key : '(native, no JS caller)' : area(byId.get(at)!.callFrame.url);
  owner.set(charged, (owner.get(charged) ?? 0) + micros);
});

const pct = (micros: number) => `${((micros / total) * 100).toFixed(1).padStart(5)} %`;
const idle = self.get('(idle)') ?? 0;
console.log(`${positionals[0]}: ${(total / 1e6).toFixed(1)} s sampled, ${pct(idle).trim()} idle`);
console.log('\nself time');
for (const [key, micros] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${pct(micros)}  ${key}`);
console.log('\nself time, native frames charged to their nearest caller with a source, by package or folder');
for (const [key, micros] of [...owner].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${pct(micros)}  ${key}`);
console.log('\ninclusive (the stack passes through it), by package or source folder');
for (const [key, micros] of [...inclusive].filter(([key]) => key !== '(native / runtime)').sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${pct(micros)}  ${key}`);
