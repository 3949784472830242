import path from "node:path";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { defineConfig } from "prisma/config";
import { databaseUrlFor } from "../packages/common/src/database-url.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

let patched = false;
/**
 * adapter-pg 6.19 cannot deserialize Postgres `name` columns (type oid 19), which the migration
 * engine reads from the catalog (prisma/orm#27403). Report them as `text` (oid 25). The pool calls
 * Client#query with a callback, so the promise-returning Pool#query is the place to patch.
 */
function reportNameColumnsAsText(): void {
  if (patched) return;
  patched = true;
  const original = pg.Pool.prototype.query;
  // @ts-expect-error - overriding an overloaded method with a promise-only wrapper
  pg.Pool.prototype.query = async function patchedQuery(this: pg.Pool, ...args: unknown[]) {
    // @ts-expect-error - forwarding the caller's overload unchanged
    const result = (await original.apply(this, args)) as unknown;
    for (const field of (result as pg.QueryResult).fields ?? []) {
      if (field.dataTypeID === 19) field.dataTypeID = 25;
    }
    return result;
  };
}

/** The CLI only needs a database for migrate commands; `generate` and `migrate diff` stay offline. */
export function definePrismaCliConfig(subgraph: string) {
  const urlVar = `${subgraph.toUpperCase()}_DATABASE_URL`;
  // The schema's datasource reads this variable; the CLI refuses to even generate when it is unset.
  process.env[urlVar] ??= databaseUrlFor(subgraph);
  return defineConfig({
    schema: path.join(here, subgraph, "schema.prisma"),
    migrations: { path: path.join(here, subgraph, "migrations") },
    experimental: { adapter: true },
    engine: "js",
    async adapter() {
      reportNameColumnsAsText();
      return new PrismaPg({ connectionString: process.env[urlVar] as string });
    },
  });
}
