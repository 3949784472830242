import type { SubgraphModule } from "@catalog/common";
import { createPrisma, type InventoryPrisma } from "./prisma.ts";
import { seedInventory } from "./seed.ts";
import { buildInventoryServer } from "./server.ts";

export const inventorySubgraph: SubgraphModule<InventoryPrisma> = {
  name: "inventory",
  defaultPort: 4004,
  createPrisma,
  seed: (prisma) => seedInventory(prisma),
  build: buildInventoryServer,
};
export { buildInventoryServer } from "./server.ts";
export { createPrisma } from "./prisma.ts";
