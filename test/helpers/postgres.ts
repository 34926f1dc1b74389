/**
 * PostgreSQL for a test file: one throwaway cluster per file, started on
 * first use and destroyed after the file's last test, and a fresh database
 * per test (dropped when the test finishes). Call `usePostgres()` at the top
 * level of a test file.
 */
import { afterAll, onTestFinished } from 'vitest';
import { startPgCluster, type PgCluster } from './pg-cluster.js';

export interface PostgresForTests {
  /** The file's cluster, started on first call. */
  cluster(): Promise<PgCluster>;
  /** A new empty database for the running test; resolves with its URL. */
  freshDatabase(): Promise<string>;
}

export function usePostgres(): PostgresForTests {
  let cluster: Promise<PgCluster> | undefined;
  afterAll(async () => {
    const started = await cluster?.catch(() => undefined);
    await started?.destroy();
  });
  const forTests: PostgresForTests = {
    cluster: () => (cluster ??= startPgCluster()),
    async freshDatabase() {
      const started = await forTests.cluster();
      const url = await started.createDatabase();
      // Registered before the test starts its servers, so it runs after they close.
      onTestFinished(() => started.dropDatabase(url).catch(() => {}));
      return url;
    },
  };
  return forTests;
}

/** The storage backends a suite runs against: each gives the env that selects it. */
export interface Backend {
  name: 'sqlite' | 'postgres';
  env(): Promise<Record<string, string>>;
}

export function backends(postgres: PostgresForTests): Backend[] {
  return [
    { name: 'sqlite', env: async () => ({}) },
    { name: 'postgres', env: async () => ({ DATABASE_URL: await postgres.freshDatabase() }) },
  ];
}
