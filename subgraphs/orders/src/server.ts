import { readFileSync } from "node:fs";
import { defineSubgraphServer, type SubgraphDeps } from "@catalog/common";
import { parse } from "graphql";
import { createContext } from "./context.ts";
import { startJobQueue } from "./jobs.ts";
import { testPaymentProvider } from "./payments/test-provider.ts";
import { createPeers } from "./peers.ts";
import { policies } from "./policies.ts";
import type { OrdersPrisma } from "./prisma.ts";
import { jobHandlers } from "./recovery.ts";
import { resolvers } from "./resolvers/index.ts";
import type { Faults, Selling } from "./services.ts";
import { ordersSettings } from "./settings.ts";

export const typeDefs = parse(readFileSync(new URL("../schema.graphql", import.meta.url), "utf8"));

/**
 * Builds the orders subgraph from injected dependencies. It never listens: index.ts does. Its
 * settings are parsed here, at boot, and its job queue (pg-boss, in the orders database) starts
 * before the server answers. `faults` exists for tests that stop a saga where a crash would.
 */
export function ordersServer(faults: Faults = {}) {
  return defineSubgraphServer({
    name: "orders",
    typeDefs,
    resolvers,
    policies,
    async start(deps: SubgraphDeps<OrdersPrisma>) {
      const settings = ordersSettings(deps.env);
      const secret = deps.auth.internalSecrets[0];
      if (!secret) throw new Error("INTERNAL_AUTH_SECRET is required");
      const jobs = await startJobQueue({
        db: deps.db,
        logger: deps.logger.child({ component: "jobs" }),
        workers: settings.jobsEnabled,
        pollSeconds: settings.jobsPollSeconds,
        schema: settings.jobsSchema,
      });
      const selling: Selling = {
        prisma: deps.prisma,
        peers: createPeers(deps.peers, secret, settings.peerTimeoutMs),
        jobs,
        provider: testPaymentProvider(deps.prisma),
        settings,
        logger: deps.logger,
        cache: deps.cache,
        faults,
      };
      await jobs.work(jobHandlers(selling));
      faults.started?.(selling);
      return { selling, stop: () => jobs.stop() };
    },
    createContext: (deps, request, services) => createContext(deps, request, services.selling),
  });
}

export const buildOrdersServer = ordersServer();
