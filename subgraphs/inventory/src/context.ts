import type { CacheInvalidator, Database, Logger, RequestScoped, SubgraphDeps, SubgraphRequest } from "@catalog/common";
import { createLoaders, type Loaders } from "./loaders.ts";
import type { InventoryPrisma } from "./prisma.ts";
import { productDirectory, type ProductDirectory } from "./product-directory.ts";

export interface Context extends RequestScoped {
  prisma: InventoryPrisma;
  /** Reads straight to the driver (the stock feed). */
  db: Database;
  loaders: Loaders;
  logger: Logger;
  /** Purges cached responses that show what a mutation changed (tags such as `Product:<id>`). */
  cache: CacheInvalidator;
  products: ProductDirectory;
}

export function createContext(deps: SubgraphDeps<InventoryPrisma>, request: SubgraphRequest): Context {
  const { requestId, viewer } = request;
  const { prisma, logger } = deps;
  return {
    requestId,
    viewer,
    prisma,
    db: deps.db,
    loaders: createLoaders(prisma, deps.db),
    logger: logger.child({ requestId }),
    cache: deps.cache,
    products: productDirectory(() => deps.peers("products"), request),
  };
}
