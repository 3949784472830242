import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import {
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from "@apollo/server/plugin/disabled";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import { errorMaskingPlugin, inputGuardPlugin, jsonErrorHandler, requestIdMiddleware, type Logger } from "@catalog/common";
import cors from "cors";
import express, { type Express } from "express";
import { createCache, type CacheHandle } from "./cache.ts";
import type { GatewayConfig } from "./config.ts";
import type { GatewayContext } from "./context.ts";
import { SubgraphDataSource } from "./data-source.ts";
import { probeSubgraph, type ReadinessReport } from "./readiness.ts";
import { loadSupergraph } from "./supergraph.ts";

export interface Gateway {
  app: Express;
  /** The URL each subgraph is called at (supergraph URL unless overridden by config). */
  subgraphUrls: Record<string, string>;
  cache: CacheHandle;
  readiness(): Promise<ReadinessReport>;
  stop(): Promise<void>;
}

/**
 * Builds the gateway from config; it never listens (index.ts does). Throws a SupergraphError when
 * the supergraph is missing or invalid, so the process can refuse to start.
 */
export async function buildGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const supergraph = await loadSupergraph(config.supergraphPath);
  const subgraphUrls = Object.fromEntries(
    supergraph.subgraphs.map(({ name, url }) => [name, config.subgraphUrls[name as keyof GatewayConfig["subgraphUrls"]] ?? url]),
  );
  const timedFetch: typeof fetch = (input, init) =>
    fetch(input, { ...init, signal: AbortSignal.timeout(config.subgraphTimeoutMs) });

  const gateway = new ApolloGateway({
    supergraphSdl: supergraph.sdl,
    logger,
    buildService: ({ name, url }) =>
      new SubgraphDataSource({
        url: subgraphUrls[name] ?? url,
        fetcher: timedFetch,
      }),
  });

  const cache = createCache({ redisUrl: config.redisUrl, keyPrefix: config.redisKeyPrefix, logger });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    cache: cache.cache,
    persistedQueries: { ttl: config.apqTtlSeconds },
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    plugins: [
      config.introspection
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, footer: false })
        : ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      inputGuardPlugin<GatewayContext>(),
      errorMaskingPlugin<GatewayContext>(logger),
    ],
  });
  // Throws when the gateway cannot load the supergraph, so a built gateway always has one.
  await apollo.start();

  const readiness = async (): Promise<ReadinessReport> => {
    const entries = await Promise.all(
      Object.entries(subgraphUrls).map(async ([name, url]) => [name, await probeSubgraph(url)] as const),
    );
    const subgraphs = Object.fromEntries(entries);
    const cacheReachable = await cache.ping();
    return {
      // Redis is an accelerator: its absence degrades speed, not readiness.
      ready: entries.every(([, ok]) => ok),
      supergraph: true,
      subgraphs,
      cache: { kind: cache.kind, reachable: cacheReachable },
    };
  };

  const app = express();
  app.disable("x-powered-by");
  app.use(requestIdMiddleware);
  app.get("/health", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/ready", async (_req, res) => {
    const report = await readiness();
    res.status(report.ready ? 200 : 503).json(report);
  });
  // Sandbox is served at the root (what people open first); both paths answer GraphQL.
  app.all(
    ["/", "/graphql"],
    cors<cors.CorsRequest>({ origin: config.corsOrigins, credentials: true }),
    express.json({ limit: "1mb" }),
    expressMiddleware(apollo, {
      context: async ({ res }) => ({ requestId: res.locals.requestId as string }),
    }),
  );
  app.use(jsonErrorHandler(logger));

  return {
    app,
    subgraphUrls,
    cache,
    readiness,
    async stop() {
      await apollo.stop();
      await cache.close();
    },
  };
}
