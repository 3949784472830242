// npm run db:seed: loads the deterministic demo catalog into each subgraph's (migrated) database.
// A subgraph that already has data is left untouched, so running it twice is harmless.
import { configuredDatabaseUrl, demoSeedAllowed, openPostgres, seedDemoData } from "@catalog/common";
import { subgraphModules } from "./subgraph-modules.ts";

try {
  demoSeedAllowed(process.env.NODE_ENV, "true");
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

for (const module of subgraphModules) {
  const { name } = module;
  const url = configuredDatabaseUrl(name, process.env);
  if (!url) {
    console.error(`No database configured for ${name}: set DATABASE_URL or ${name.toUpperCase()}_DATABASE_URL.`);
    process.exit(1);
  }
  const db = openPostgres(url);
  const prisma = module.createPrisma(db.adapter);
  try {
    const seeded = await seedDemoData(module, prisma, db);
    console.log(`${name}: ${seeded ? "seeded" : "already has data, left as is"}`);
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}
