import type { Logger, PeerIdentity, RequestScoped, SubgraphDeps, SubgraphRequest } from "@catalog/common";
import { createLoaders, type Loaders } from "./loaders.ts";
import type { OrdersPrisma } from "./prisma.ts";
import type { Selling } from "./services.ts";

export interface Context extends RequestScoped {
  prisma: OrdersPrisma;
  loaders: Loaders;
  logger: Logger;
  selling: Selling;
  /** The caller's signed identity, forwarded when this subgraph reads products or stock for them. */
  identity: PeerIdentity;
}

export function createContext(deps: SubgraphDeps<OrdersPrisma>, request: SubgraphRequest, selling: Selling): Context {
  const { requestId, viewer, identityToken } = request;
  const { prisma, logger } = deps;
  const identity = { requestId, identityToken };
  return {
    requestId,
    viewer,
    prisma,
    loaders: createLoaders(prisma, selling.peers, identity),
    logger: logger.child({ requestId }),
    selling,
    identity,
  };
}
