import { randomBytes } from "node:crypto";
import {
  applyMigrations,
  deriveDatabaseUrl,
  dropPostgresDatabase,
  ensurePostgresDatabase,
  openPostgres,
  SUBGRAPHS,
} from "@catalog/common";
import type { TestProject } from "vitest/node";


/**
 * One fresh set of databases per test run (named catalog_test_<run>_<subgraph>), migrated once,
 * dropped at the end, so runs never see each other's rows or a previous run's leftovers.
 */
export default async function setup(project: TestProject) {
  const server = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const run = `catalog_test_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const base = new URL(server);
  base.pathname = `/${run}`;
  const urls = Object.fromEntries(SUBGRAPHS.map((name) => [name, deriveDatabaseUrl(base.toString(), name)])) as Record<
    (typeof SUBGRAPHS)[number],
    string
  >;
  await Promise.all(
    Object.entries(urls).map(async ([name, url]) => {
      await ensurePostgresDatabase(url);
      const db = openPostgres(url);
      try {
        await applyMigrations(db, name);
      } finally {
        await db.close();
      }
    }),
  );
  project.provide("databaseUrls", urls);
  project.provide("redisUrl", process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
  project.provide("redisPrefix", `${run}:`);

  return async () => {
    await Promise.all(Object.values(urls).map((url) => dropPostgresDatabase(url)));
  };
}
