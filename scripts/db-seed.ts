// npm run db:seed: loads the deterministic demo catalog into each subgraph's (migrated) database.
// A subgraph that already has data is left untouched, so running it twice is harmless.
import { configuredDatabaseUrl, openPostgres, SUBGRAPHS, type SubgraphModule, type PrismaLike } from "@catalog/common";
import { inventorySubgraph } from "@catalog/inventory";
import { ordersSubgraph } from "@catalog/orders";
import { productsSubgraph } from "@catalog/products";
import { usersSubgraph } from "@catalog/users";

const modules: Record<string, SubgraphModule<PrismaLike>> = {
  users: usersSubgraph as unknown as SubgraphModule<PrismaLike>,
  products: productsSubgraph as unknown as SubgraphModule<PrismaLike>,
  orders: ordersSubgraph as unknown as SubgraphModule<PrismaLike>,
  inventory: inventorySubgraph as unknown as SubgraphModule<PrismaLike>,
};

for (const name of SUBGRAPHS) {
  const url = configuredDatabaseUrl(name, process.env);
  if (!url) {
    console.error(`No database configured for ${name}: set DATABASE_URL or ${name.toUpperCase()}_DATABASE_URL.`);
    process.exit(1);
  }
  const db = openPostgres(url);
  const module = modules[name]!;
  const prisma = module.createPrisma(db.adapter);
  try {
    const seeded = await module.seed(prisma, db);
    console.log(`${name}: ${seeded ? "seeded" : "already has data, left as is"}`);
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}
