import type { Logger, RequestScoped, SubgraphDeps } from "@catalog/common";
import { createLoaders, type Loaders } from "./loaders.ts";
import type { InventoryPrisma } from "./prisma.ts";
import { productDirectory, type ProductDirectory } from "./product-directory.ts";

export interface Context extends RequestScoped {
  prisma: InventoryPrisma;
  loaders: Loaders;
  logger: Logger;
  products: ProductDirectory;
}

export function createContext(deps: SubgraphDeps<InventoryPrisma>, requestId: string): Context {
  const { prisma, logger } = deps;
  return {
    requestId,
    prisma,
    loaders: createLoaders(prisma),
    logger: logger.child({ requestId }),
    products: productDirectory(() => deps.peers("products"), requestId),
  };
}
