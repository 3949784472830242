import type { CacheInvalidator, Logger, RequestScoped, SubgraphDeps, SubgraphRequest } from "@catalog/common";
import { createLoaders, type Loaders } from "./loaders.ts";
import type { ProductsPrisma } from "./prisma.ts";

export interface Context extends RequestScoped {
  prisma: ProductsPrisma;
  loaders: Loaders;
  logger: Logger;
  /** Purges cached responses that show what a mutation changed (tags such as `Product:<id>`). */
  cache: CacheInvalidator;
}

export function createContext(deps: SubgraphDeps<ProductsPrisma>, request: SubgraphRequest): Context {
  const { requestId, viewer } = request;
  const { prisma, logger } = deps;
  return { requestId, viewer, prisma, loaders: createLoaders(prisma), logger: logger.child({ requestId }), cache: deps.cache };
}
