import * as throwaway from '../../scripts/lib/throwaway-database.ts';

/** Server the tests create their databases on; CI and the README use the local default. */
export const TEST_SERVER_URL = Bun.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type TestDatabase = throwaway.ThrowawayDatabase;

export function databaseUrl(name: string, serverUrl = TEST_SERVER_URL): string {
  return throwaway.databaseUrl(name, serverUrl);
}

/** A database name no other test file (or concurrent run) uses. */
export function uniqueDatabaseName(label: string): string {
  return throwaway.uniqueDatabaseName(`test_${label}`);
}

/** Creates and migrates a fresh database for one test file, through the same code `bun run db:migrate` uses. */
export async function createTestDatabase(label: string, { migrate = true, serverUrl = TEST_SERVER_URL } = {}): Promise<TestDatabase> {
  return throwaway.createThrowawayDatabase(serverUrl, `test_${label}`, { migrate });
}

export async function dropDatabase(name: string, serverUrl = TEST_SERVER_URL): Promise<void> {
  await throwaway.dropDatabase(name, serverUrl);
}
