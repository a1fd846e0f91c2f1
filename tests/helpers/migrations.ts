import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS_FOLDER } from '../../src/shared/db/migrate.ts';

/**
 * Copies of the committed migrations cut before a given one, for a test that writes rows the way an
 * older schema held them and then migrates. remove() deletes every folder made.
 */
export function migrationFolders() {
  const folders: string[] = [];
  return {
    /** The committed migrations up to (not including) `tag`, as a folder drizzle can apply. */
    async before(tag: string): Promise<string> {
      const folder = await mkdtemp(join(tmpdir(), 'migrations-'));
      folders.push(folder);
      await cp(MIGRATIONS_FOLDER, folder, { recursive: true });
      const journalPath = join(folder, 'meta', '_journal.json');
      const journal = await Bun.file(journalPath).json();
      const cut = journal.entries.findIndex((entry: { tag: string }) => entry.tag === tag);
      if (cut < 0) throw new Error(`no migration tagged ${tag}`);
      await Bun.write(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, cut) }));
      return folder;
    },
    remove: () => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))),
  };
}
