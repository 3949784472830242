// npm run db:migrate: creates (if needed) and migrates each subgraph's database on real PostgreSQL.
// Uses DATABASE_URL (one database per subgraph, <name>_<subgraph>) or <SUBGRAPH>_DATABASE_URL.
import { applyMigrations, configuredDatabaseUrl, ensurePostgresDatabase, openPostgres, SUBGRAPHS } from "@catalog/common";

let failed = false;
for (const name of SUBGRAPHS) {
  const url = configuredDatabaseUrl(name, process.env);
  if (!url) {
    console.error(`No database configured for ${name}: set DATABASE_URL or ${name.toUpperCase()}_DATABASE_URL.`);
    process.exit(1);
  }
  await ensurePostgresDatabase(url);
  const db = openPostgres(url);
  try {
    const result = await applyMigrations(db, name);
    console.log(
      `${name}: ${result.applied.length ? `applied ${result.applied.join(", ")}` : "up to date"} (${db.location})`,
    );
  } catch (error) {
    failed = true;
    console.error(`${name}: ${(error as Error).message}`);
  } finally {
    await db.close();
  }
}
process.exit(failed ? 1 : 0);
