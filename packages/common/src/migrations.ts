import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { REPO_ROOT } from "./paths.ts";

export const PRISMA_DIR = path.join(REPO_ROOT, "prisma");

export interface SqlRunner {
  /** Runs one or more statements with no parameters. */
  exec(sql: string): Promise<void>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Applies `prisma/<subgraph>/migrations/*` in name order. The bookkeeping table is Prisma's own
 * `_prisma_migrations` (same columns and checksum), so `prisma migrate status` and
 * `prisma migrate deploy` agree with what ran here. One runner serves real PostgreSQL and the
 * embedded PGlite, which the Prisma CLI cannot reach (see docs/decisions/0002).
 */
export async function applyMigrations(db: SqlRunner, subgraph: string): Promise<MigrationResult> {
  const dir = path.join(PRISMA_DIR, subgraph, "migrations");
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();

  await db.exec(`
    CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0
    )`);
  const done = await db.query<{ migration_name: string; checksum: string }>(
    `SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  );
  const applied = new Map(done.map((row) => [row.migration_name, row.checksum]));

  const result: MigrationResult = { applied: [], alreadyApplied: 0 };
  for (const name of names) {
    const sql = await readFile(path.join(dir, name, "migration.sql"), "utf8");
    const checksum = createHash("sha256").update(sql).digest("hex");
    const previous = applied.get(name);
    if (previous !== undefined) {
      if (previous !== checksum) {
        throw new Error(
          `Migration ${subgraph}/${name} was edited after it was applied (checksum mismatch). ` +
            "Add a new migration instead of changing an applied one.",
        );
      }
      result.alreadyApplied++;
      continue;
    }
    // One transaction per migration: a failing migration leaves no half-applied schema behind.
    await db.exec(
      `BEGIN;\n${sql}\n;INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count) ` +
        `VALUES ('${randomUUID()}', '${checksum}', '${name.replace(/'/g, "''")}', now(), 1);\nCOMMIT;`,
    );
    result.applied.push(name);
  }
  return result;
}
