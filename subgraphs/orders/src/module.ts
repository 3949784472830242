import type { SubgraphModule } from "@catalog/common";
import { createPrisma, type OrdersPrisma } from "./prisma.ts";
import { seedOrders } from "./seed.ts";
import { buildOrdersServer } from "./server.ts";

export const ordersSubgraph: SubgraphModule<OrdersPrisma> = {
  name: "orders",
  defaultPort: 4003,
  createPrisma,
  seed: (prisma) => seedOrders(prisma),
  build: buildOrdersServer,
};
export { buildOrdersServer } from "./server.ts";
export { createPrisma } from "./prisma.ts";
