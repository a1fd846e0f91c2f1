import { describe, expect, it } from 'bun:test';
import { Glob } from 'bun';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EnvSchema } from '../src/shared/runtime/config.ts';
import { TRACING_VARIABLES } from '../src/shared/tracing/settings.ts';

const root = join(import.meta.dir, '..');
const read = (path: string) => Bun.file(join(root, path)).text();
const readme = await read('README.md');
/** README.md and every docs/*.md, by path from the repository root. */
const pages = new Map<string, string>([['README.md', readme]]);
for await (const path of new Glob('docs/*.md').scan(root)) pages.set(path, await read(path));
const scripts: Record<string, string> = (await Bun.file(join(root, 'package.json')).json()).scripts;

/** The text with fenced code blocks blanked out: their `#` lines are no headings and their brackets no links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading!.toLowerCase().replace(/[^\p{L}\p{N}\p{M}_\- ]/gu, '').replaceAll(' ', '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** The table rows `| \`NAME\` |` of a piece of Markdown. */
const variablesIn = (text: string) => [...text.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]);

describe('the README', () => {
  it('is a front door of at most 250 lines', () => {
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(250);
  });

  it('has a quick start of exactly the two promised commands', () => {
    const start = readme.indexOf('## Quick start');
    const quickStart = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const firstBlock = quickStart.match(/```sh\n([\s\S]*?)```/)![1]!;
    expect(firstBlock.split('\n').filter(Boolean).map((line) => line.split('#')[0]!.trim())).toEqual(['bun install && bun run dev', 'bun test']);
  });

  it('links every page of docs/', () => {
    const docs = [...pages.keys()].filter((path) => path.startsWith('docs/'));
    expect(docs.length).toBeGreaterThan(5);
    for (const path of docs) expect(readme).toContain(`](${path})`);
  });
});

describe('the docs', () => {
  it('document every configuration variable the code reads, and no other (docs/configuration.md)', () => {
    expect(variablesIn(pages.get('docs/configuration.md')!).toSorted()).toEqual(Object.keys(EnvSchema.properties).toSorted());
  });

  it('document the OpenTelemetry variables in docs/tracing.md, and no other', () => {
    const tracing = pages.get('docs/tracing.md')!;
    // The variables table sits in the page's opening part, before its first section.
    const opening = tracing.slice(0, tracing.indexOf('\n## '));
    expect(variablesIn(opening).toSorted()).toEqual(Object.keys(TRACING_VARIABLES).toSorted());
    expect(variablesIn(tracing.slice(opening.length))).toEqual([]);
  });

  it('only show `bun run` commands that exist, in the README and every page', () => {
    for (const [path, text] of pages) {
      const used = new Set([...text.matchAll(/bun run ([a-z:-]+)/g)].map((match) => match[1]!));
      for (const script of used) expect(Object.keys(scripts).includes(script) ? script : `${path}: bun run ${script}`).toBe(script);
    }
  });

  it('link only to files that exist, and to headings that exist on Markdown pages', () => {
    const broken: string[] = [];
    for (const [path, text] of pages) {
      for (const [, target] of prose(text).matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto: ...
        const [file, anchor] = target!.split('#') as [string, string | undefined];
        const resolved = file === '' ? path : join(dirname(path), file);
        if (!existsSync(join(root, resolved))) {
          broken.push(`${path}: ${target} (no file ${resolved})`);
          continue;
        }
        if (anchor === undefined || !resolved.endsWith('.md')) continue;
        const targetText = pages.get(resolved) ?? readFileSync(join(root, resolved), 'utf8');
        if (!anchorsOf(targetText).has(anchor)) broken.push(`${path}: ${target} (no heading #${anchor} in ${resolved})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('compute anchors as GitHub does (the link check is not vacuous)', () => {
    const anchors = anchorsOf('# Tracing\n## `GET /health/live` and `GET /health/ready`\n## The operations page: `GET /ops`\n## Tests\n## Tests\n```sh\n# not a heading\n```\n');
    expect([...anchors]).toEqual(['tracing', 'get-healthlive-and-get-healthready', 'the-operations-page-get-ops', 'tests', 'tests-1']);
  });
});
