import type { CacheInvalidator, Database, Logger, RequestScoped, SubgraphDeps, SubgraphRequest } from "@catalog/common";
import { createLoaders, type Loaders } from "./loaders.ts";
import type { ProductsPrisma } from "./prisma.ts";
import type { PurchaseCheck } from "./purchases.ts";
import type { CatalogSearch } from "./search/types.ts";

export interface Context extends RequestScoped {
  prisma: ProductsPrisma;
  /** Hot reads straight to the driver (listings, summaries). */
  db: Database;
  loaders: Loaders;
  logger: Logger;
  /** Purges cached responses that show what a mutation changed (tags such as `Product:<id>`). */
  cache: CacheInvalidator;
  /** Listings, search and facets. */
  search: CatalogSearch;
  /** Whether a review's author bought the product (the orders subgraph). */
  purchases: PurchaseCheck;
}

export function createContext(deps: SubgraphDeps<ProductsPrisma>, request: SubgraphRequest, services: { search: CatalogSearch; purchases: PurchaseCheck }): Context {
  const { requestId, viewer } = request;
  const { prisma, logger } = deps;
  return { requestId, viewer, prisma, db: deps.db, loaders: createLoaders(prisma, deps.db), logger: logger.child({ requestId }), cache: deps.cache, search: services.search, purchases: services.purchases };
}
