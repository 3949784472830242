import type { Logger, RequestScoped, SubgraphDeps } from "@catalog/common";
import { createLoaders, type Loaders } from "./loaders.ts";
import type { UsersPrisma } from "./prisma.ts";

export interface Context extends RequestScoped {
  prisma: UsersPrisma;
  loaders: Loaders;
  logger: Logger;
}

export function createContext(deps: SubgraphDeps<UsersPrisma>, requestId: string): Context {
  const { prisma, logger } = deps;
  return { requestId, prisma, loaders: createLoaders(prisma), logger: logger.child({ requestId }) };
}
