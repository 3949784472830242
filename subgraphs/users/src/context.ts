import type { Logger, RequestScoped } from "@catalog/common";
import { createLoaders, type Loaders } from "./loaders.ts";
import type { UsersPrisma } from "./prisma.ts";

export interface Context extends RequestScoped {
  prisma: UsersPrisma;
  loaders: Loaders;
  logger: Logger;
}

export function createContext(prisma: UsersPrisma, logger: Logger, requestId: string): Context {
  return { requestId, prisma, loaders: createLoaders(prisma), logger: logger.child({ requestId }) };
}
