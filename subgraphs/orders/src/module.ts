import type { SubgraphModule } from "@catalog/common";
import { createPrisma, type OrdersPrisma } from "./prisma.ts";
import { seedOrders } from "./seed.ts";
import { ordersServer } from "./server.ts";
import type { Faults } from "./services.ts";

/** The orders subgraph; `faults` lets a test stop its sagas where a crash would (never in production). */
export function createOrdersSubgraph(faults: Faults = {}): SubgraphModule<OrdersPrisma> {
  return {
    name: "orders",
    defaultPort: 4003,
    createPrisma,
    seed: (prisma) => seedOrders(prisma),
    build: ordersServer(faults),
  };
}

export const ordersSubgraph = createOrdersSubgraph();
export { buildOrdersServer } from "./server.ts";
export { createPrisma } from "./prisma.ts";
export type { Faults } from "./services.ts";
