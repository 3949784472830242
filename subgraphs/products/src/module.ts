import type { SubgraphModule } from "@catalog/common";
import { createPrisma, type ProductsPrisma } from "./prisma.ts";
import { seedProducts } from "./seed.ts";
import { buildProductsServer } from "./server.ts";

export const productsSubgraph: SubgraphModule<ProductsPrisma> = {
  name: "products",
  defaultPort: 4002,
  createPrisma,
  seed: (prisma) => seedProducts(prisma),
  build: buildProductsServer,
};
export { buildProductsServer } from "./server.ts";
export { createPrisma } from "./prisma.ts";
export { applyStockChanges } from "./stock-sync.ts";
