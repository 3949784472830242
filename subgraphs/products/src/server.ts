import { readFileSync } from "node:fs";
import { defineSubgraphServer, type SubgraphDeps } from "@catalog/common";
import { parse } from "graphql";
import { createContext } from "./context.ts";
import type { ProductsPrisma } from "./prisma.ts";
import { resolvers } from "./resolvers/index.ts";
import { postgresSearch } from "./search/postgres-search.ts";
import { purchaseCheck } from "./purchases.ts";
import { productsSettings } from "./settings.ts";
import { startStockSync } from "./stock-sync.ts";

export const typeDefs = parse(readFileSync(new URL("../schema.graphql", import.meta.url), "utf8"));

/**
 * Builds the products subgraph from injected dependencies. It never listens: index.ts does. Its
 * settings are parsed at boot; the availability replica starts following inventory's stock feed
 * before the server answers (docs/decisions/0022).
 */
export const buildProductsServer = defineSubgraphServer({
  name: "products",
  typeDefs,
  resolvers,
  async start(deps: SubgraphDeps<ProductsPrisma>) {
    const settings = productsSettings(deps.env);
    const secret = deps.auth.internalSecrets[0];
    if (!secret) throw new Error("INTERNAL_AUTH_SECRET is required");
    const stockSync = startStockSync({
      db: deps.db,
      peers: deps.peers,
      internalSecret: secret,
      intervalMs: settings.stockSyncIntervalMs,
      timeoutMs: settings.stockSyncTimeoutMs,
      logger: deps.logger.child({ component: "stock-sync" }),
      cache: deps.cache,
    });
    const purchases = purchaseCheck({ peers: deps.peers, internalSecret: secret, timeoutMs: settings.purchaseCheckTimeoutMs });
    return {
      search: postgresSearch(deps.db),
      purchases,
      stockSync,
      // Availability known before the first request, when the sync runs at all (tests drive it).
      // A reading under way may have begun before inventory was reachable: it ends first (a
      // failure there is the interval's to retry), then one reads the feed to its end.
      catchUp: async () => {
        if (settings.stockSyncIntervalMs <= 0) return;
        await stockSync.runOnce().catch(() => undefined);
        await stockSync.runOnce();
      },
      stop: () => stockSync.stop(),
    };
  },
  createContext,
});
