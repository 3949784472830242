import type { Logger, RequestScoped, SubgraphDeps, SubgraphRequest } from "@catalog/common";
import { createLoaders, type Loaders } from "./loaders.ts";
import type { OrdersPrisma } from "./prisma.ts";

export interface Context extends RequestScoped {
  prisma: OrdersPrisma;
  loaders: Loaders;
  logger: Logger;
}

export function createContext(deps: SubgraphDeps<OrdersPrisma>, request: SubgraphRequest): Context {
  const { requestId, viewer } = request;
  const { prisma, logger } = deps;
  return { requestId, viewer, prisma, loaders: createLoaders(prisma), logger: logger.child({ requestId }) };
}
