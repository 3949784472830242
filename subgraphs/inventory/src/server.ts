import { readFileSync } from "node:fs";
import { createSubgraphApp, subgraphSchema, type SubgraphApp, type SubgraphDeps } from "@catalog/common";
import { parse } from "graphql";
import { createContext, type Context } from "./context.ts";
import type { InventoryPrisma } from "./prisma.ts";
import { resolvers } from "./resolvers/index.ts";

export const typeDefs = parse(readFileSync(new URL("../schema.graphql", import.meta.url), "utf8"));

/** Builds the inventory subgraph from injected dependencies. It never listens: index.ts does. */
export function buildInventoryServer(deps: SubgraphDeps<InventoryPrisma>): Promise<SubgraphApp> {
  return createSubgraphApp<Context>({
    name: "inventory",
    schema: subgraphSchema(typeDefs, resolvers),
    logger: deps.logger,
    introspection: deps.introspection,
    context: (requestId) => createContext(deps.prisma, deps.logger, requestId),
    checkReady: async () => {
      await deps.db.query("SELECT 1");
    },
  });
}
