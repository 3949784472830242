import type { CacheInvalidator, Logger, RequestScoped, SubgraphDeps, SubgraphRequest } from "@catalog/common";
import { accountService, type AccountDeps, type AccountService } from "./account.ts";
import { authService, type AuthService } from "./auth.ts";
import { createLoaders, type Loaders } from "./loaders.ts";
import { partnerService, type PartnerService } from "./partners.ts";
import type { UsersPrisma } from "./prisma.ts";

export interface Context extends RequestScoped {
  prisma: UsersPrisma;
  loaders: Loaders;
  logger: Logger;
  auth: AuthService;
  accounts: AccountService;
  partners: PartnerService;
  cache: CacheInvalidator;
  /** Accounts signed in by this request (register, login, refreshToken): "self" for policy checks. */
  signedIn: Set<string>;
}

export function createContext(deps: SubgraphDeps<UsersPrisma>, request: SubgraphRequest, accounts: AccountDeps): Context {
  const { requestId, viewer } = request;
  const { prisma, logger, auth } = deps;
  if (!auth.issuer) throw new Error("the users subgraph needs a token issuer (JWT_SECRET or JWT_PRIVATE_KEY)");
  const signedIn = new Set<string>();
  const authentication = authService(prisma, auth.issuer, (userId) => signedIn.add(userId));
  return {
    requestId,
    viewer,
    prisma,
    loaders: createLoaders(prisma),
    logger: logger.child({ requestId }),
    auth: authentication,
    accounts: accountService(accounts, authentication),
    partners: partnerService(prisma),
    cache: deps.cache,
    signedIn,
  };
}
