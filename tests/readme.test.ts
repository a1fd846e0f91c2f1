import { describe, expect, it } from 'bun:test';
import { EnvSchema } from '../src/shared/runtime/config.ts';
import { TRACING_VARIABLES } from '../src/shared/tracing/settings.ts';

const root = new URL('..', import.meta.url);
const readme = await Bun.file(new URL('README.md', root)).text();
const scripts: Record<string, string> = (await Bun.file(new URL('package.json', root)).json()).scripts;

describe('the README', () => {
  it('documents every configuration variable the code reads, and no other', () => {
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## HTTP API'));
    const documented = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]);
    expect(documented.toSorted()).toEqual(Object.keys(EnvSchema.properties).toSorted());
  });

  it('documents the OpenTelemetry variables in the Tracing section, and no other', () => {
    const start = readme.indexOf('## Tracing');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]);
    expect(documented.toSorted()).toEqual(Object.keys(TRACING_VARIABLES).toSorted());
  });

  it('only shows `bun run` commands that exist', () => {
    const used = new Set([...readme.matchAll(/bun run ([a-z:-]+)/g)].map((match) => match[1]!));
    for (const script of used) expect(Object.keys(scripts)).toContain(script);
  });

  it('has a quick start of exactly the two promised commands', () => {
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Scripts'));
    const firstBlock = quickStart.match(/```sh\n([\s\S]*?)```/)![1]!;
    expect(firstBlock.split('\n').filter(Boolean).map((line) => line.split('#')[0]!.trim())).toEqual(['bun install && bun run dev', 'bun test']);
  });
});
