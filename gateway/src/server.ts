import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import type { RequestListener } from "node:http";
import {
  answerError,
  routeOf,
  createTokenVerifier,
  identitySigner,
  jsonErrorHandler,
  requestIdMiddleware,
  memoryResponseCacheStore,
  redisResponseCacheStore,
  type ListenOptions,
  type Logger,
  type ResponseCacheStore,
} from "@catalog/common/edge";
import express from "express";
import { createCache, type CacheHandle } from "./cache.ts";
import { subgraphEnvName, type GatewayConfig } from "./config.ts";
import type { GatewayContext } from "./context.ts";
import { SubgraphDataSource } from "./data-source.ts";
import { createMetrics, type GatewayMetrics } from "./metrics.ts";
import { operationLimitsParseOptions } from "./operation-limits.ts";
import { operationPlugins, pipelineHandler, requestPipeline } from "./pipeline.ts";
import { createRateLimiter } from "./rate-limit.ts";
import { queryPlanCache, type PlanCacheStats } from "./plan-cache.ts";
import { createResponseCache } from "./response-cache.ts";
import { persistedOperationRegistry } from "./persisted/registry.ts";
import { eventLoopShedder } from "./load-shedding.ts";
import { probeSubgraph, type ReadinessReport } from "./readiness.ts";
import { fetchSupergraph, loadSupergraph, parseSupergraph, SupergraphError, type LoadedSupergraph } from "./supergraph.ts";
import { SupergraphReloads } from "./supergraph-reload.ts";

/** Express' default matching for `/` and `/graphql`: case-insensitive, an optional trailing slash. */
const GRAPHQL_PATHS = new Set(["/", "/graphql", "/graphql/"]);

export interface Gateway {
  /** The HTTP request listener: GraphQL on its own path, everything else through Express. */
  app: RequestListener;
  /** The URL each subgraph is called at (supergraph URL unless overridden by config). */
  subgraphUrls: Record<string, string>;
  cache: CacheHandle;
  metrics: GatewayMetrics;
  /** Where whole responses are cached (Redis or in process); subgraphs purge it by tag. */
  responseCache: ResponseCacheStore;
  planCacheStats: PlanCacheStats;
  /** What the HTTP server must enforce before Express sees a request (header size, slow clients). */
  listenOptions: ListenOptions;
  readiness(): Promise<ReadinessReport>;
  stop(): Promise<void>;
}

/**
 * Builds the gateway from config; it never listens (index.ts does). Throws a SupergraphError when
 * the supergraph is missing or invalid, so the process can refuse to start.
 */
export async function buildGateway(
  config: GatewayConfig,
  logger: Logger,
  /** `npm start` shares one in-process response cache between the gateway and the subgraphs. */
  shared: { responseCache?: ResponseCacheStore } = {},
): Promise<Gateway> {
  const supergraph = await initialSupergraph(config);
  // Config overrides apply to every supergraph served, by subgraph name.
  const targetOf = (name: string, url: string) => config.subgraphUrls[subgraphEnvName(name)] ?? url;
  // One object, kept current across hot reloads: callers holding it see today's subgraphs.
  const subgraphUrls: Record<string, string> = {};
  const followSubgraphs = (served: LoadedSupergraph) => {
    for (const name of Object.keys(subgraphUrls)) delete subgraphUrls[name];
    for (const { name, url } of served.subgraphs) subgraphUrls[name] = targetOf(name, url);
  };
  followSubgraphs(supergraph);
  const verifier = createTokenVerifier(config.auth, (error) => logger.warn({ err: error }, "could not refresh the JWKS; keeping the keys already known"));
  await verifier.warm();
  const internalSecret = config.auth.internalSecrets[0];
  if (!internalSecret) throw new Error("INTERNAL_AUTH_SECRET is required");
  const metrics = createMetrics();
  const production = config.env === "production";

  const cache = createCache({
    redisUrl: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    logger,
    onError: (operation) => metrics.redisErrors.inc({ operation }),
  });
  // Apollo asks for a data source again when a new supergraph moves a subgraph: the same target
  // keeps its pool and breaker; a replaced one is closed once requests using it are done.
  const dataSources = new Map<string, SubgraphDataSource>();
  const retiring = new Set<SubgraphDataSource>();
  const retire = (source: SubgraphDataSource) => {
    retiring.add(source);
    setTimeout(() => {
      retiring.delete(source);
      void source.close();
    }, config.requestTimeoutMs + 5_000).unref();
  };
  const plans = queryPlanCache({ shared: cache.redis ? cache.cache : undefined, supergraphSdl: supergraph.sdl });
  // The one switch @apollo/gateway reads for its hourly report to Apollo is this variable.
  process.env.APOLLO_TELEMETRY_DISABLED = config.apolloTelemetryDisabled ? "true" : "false";
  const registry = await persistedOperationRegistry({ dir: config.partnerManifestDir, schema: supergraph.apiSchema, logger });
  const supergraphs = new SupergraphReloads(supergraph, {
    source: config.supergraphUrl
      ? { kind: "url", ...config.supergraphUrl }
      : { kind: "file", path: config.supergraphPath, watch: config.supergraphWatch },
    // A partner's listed operation that stops validating would break that partner outright: such
    // a supergraph is refused until their list is updated (npm run pq:build) or the change is.
    vet: (candidate) => registry.check(candidate.apiSchema),
    logger,
    metrics,
  });
  const gateway = new ApolloGateway({
    supergraphSdl: supergraphs.hook,
    logger,
    queryPlannerConfig: { cache: plans.cache },
    buildService: ({ name, url }) => {
      if (!url) throw new Error(`the supergraph names no URL for subgraph ${name}`);
      const target = targetOf(name, url);
      const existing = dataSources.get(name);
      if (existing?.url === target) return existing;
      const source = new SubgraphDataSource({
        subgraph: name,
        url: target,
        timeoutMs: config.subgraphTimeoutMs,
        maxResponseBytes: config.subgraphMaxResponseBytes,
        logger,
        dedupe: config.subgraphDedupe,
        batchEntities: config.subgraphEntityBatching,
        metrics,
        retries: config.subgraphRetries,
        ...(config.subgraphBreaker ? { breaker: config.subgraphBreaker } : {}),
      });
      dataSources.set(name, source);
      if (existing) retire(existing);
      return source;
    },
  });
  supergraphs.attach(gateway, (next) => {
    plans.useSupergraph(next.sdl);
    followSubgraphs(next);
    registry.useSchema(next.apiSchema);
    void registry.reload();
  });
  const responseCache =
    shared.responseCache ?? (cache.redis ? redisResponseCacheStore(cache.redis, { logger }) : memoryResponseCacheStore());
  responseCache.onInvalidate((tags) => metrics.cacheInvalidations.inc(tags.length));
  // Until Redis is connected, rate limits fail open; give it a moment so a normal start enforces
  // them from the first request. A Redis that is down does not hold the gateway back for longer.
  if (!(await cache.connected(2_000))) logger.warn("redis not connected at start; serving without it until it is");
  const limiter = (keySuffix: string, limits: { points: number; anonymousPoints: number; windowSeconds: number }) =>
    createRateLimiter({ redis: cache.redis, keyPrefix: `${config.redisKeyPrefix}${keySuffix}`, config: limits, logger, metrics });
  const rateLimiter = limiter("", config.rateLimit);
  // Budgets of their own (mutation-limit.ts), the same for anonymous and signed-in callers.
  const budget = (points: number, windowSeconds: number) => ({ points, anonymousPoints: points, windowSeconds });
  const signInLimiter = limiter("signin:", budget(config.signInRateLimit, config.rateLimit.windowSeconds));
  const reviewLimiter = limiter("reviews:", budget(config.reviewRateLimit.points, config.reviewRateLimit.windowSeconds));
  let wasShedding = false;
  const shedder =
    config.shedEventLoopDelayMs > 0
      ? eventLoopShedder({
          thresholdMs: config.shedEventLoopDelayMs,
          onSample(delayMs, shedding) {
            metrics.eventLoopDelay.set(delayMs / 1000);
            metrics.shedding.set(shedding ? 1 : 0);
            if (shedding !== wasShedding) {
              logger.warn({ eventLoopDelayMs: Math.round(delayMs) }, shedding ? "event loop behind: shedding new requests" : "event loop caught up: serving again");
            }
            wasShedding = shedding;
          },
        })
      : undefined;
  const stages = requestPipeline({
    shedder,
    config,
    costModel: (schema) => supergraphs.of(schema).costModel,
    logger,
    metrics,
    verifier,
    internalSecret,
    redis: cache.redis,
    rateLimiter,
    signInLimiter,
    reviewLimiter,
    registry,
    responseCache: config.responseCacheEnabled
      ? createResponseCache({ store: responseCache, supergraphs, metrics, logger })
      : undefined,
    // A token outlives any request that starts with it: the deadline plus a margin.
    signIdentity: identitySigner(internalSecret, config.requestTimeoutMs + 5_000),
    apollo: () => apollo,
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    // Signals are ours (stopOnSignal): Apollo's own handler stops the server and re-sends SIGTERM
    // in production, cutting the drain short and exiting 143.
    stopOnTerminationSignals: false,
    cache: cache.cache,
    persistedQueries: { ttl: config.apqTtlSeconds },
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    // "Did you mean ...?" hints spell out the schema to whoever probes it; production keeps quiet.
    hideSchemaDetailsFromClientErrors: production,
    // GET and simple-content-type POSTs need a header no browser adds cross-site without a preflight.
    csrfPrevention: true,
    allowBatchedHttpRequests: config.maxBatchOperations > 0,
    // The parser itself stops at the token limit, so a huge document is never parsed in full.
    parseOptions: operationLimitsParseOptions(config.limits),
    plugins: operationPlugins(stages),
  });
  // Throws when the gateway cannot load the supergraph, so a built gateway always has one.
  await apollo.start();

  const readiness = async (): Promise<ReadinessReport> => {
    const entries = await Promise.all(
      Object.entries(subgraphUrls).map(async ([name, url]) => [name, await probeSubgraph(url)] as const),
    );
    const subgraphs = Object.fromEntries(entries);
    const cacheReachable = await cache.ping();
    const served = supergraphs.current;
    return {
      // One subgraph down degrades every gateway alike (its fields come back null): taking them all
      // out of rotation would turn that into a full outage. Only a gateway that reaches no subgraph
      // (a partition, a wrong network) is not ready. Redis degrades speed, not readiness.
      ready: entries.some(([, ok]) => ok),
      supergraph: { hash: served.hash, loadedAt: (served.loadedAt ?? new Date()).toISOString() },
      subgraphs,
      // An open breaker fails that subgraph's fields fast; the gateway itself still serves.
      breakers: Object.fromEntries(
        Object.keys(subgraphUrls).map((name) => [name, dataSources.get(name)?.breakerState ?? "closed"]),
      ),
      cache: { kind: cache.kind, reachable: cacheReachable },
    };
  };

  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", config.trustProxy);
  app.use(requestIdMiddleware);
  app.get("/health", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // The keys that verify our access tokens (RS256), for anyone who needs to check one.
  app.get("/.well-known/jwks.json", async (_req, res) => {
    res.setHeader("cache-control", "public, max-age=300");
    res.json(await verifier.jwks());
  });
  app.get("/ready", async (_req, res) => {
    const report = await readiness();
    res.status(report.ready ? 200 : 503).json(report);
  });
  app.use(jsonErrorHandler(logger));

  // Sandbox is served at the root (what people open first); both paths answer GraphQL, without
  // Express. The request path is declared, stage by stage, in pipeline.ts.
  const graphql = pipelineHandler(stages, {
    metrics,
    stageTiming: config.pipelineTiming,
    maxOperationNames: config.metricsMaxOperationNames,
    trustProxy: config.trustProxy,
  });
  const listener: RequestListener = (req, res) => {
    if (!GRAPHQL_PATHS.has(routeOf(req.url))) return void app(req, res);
    // Only reached on an error: the last stage always answers.
    graphql(req, res, (error) => answerError(error ?? { status: 404 }, res, logger));
  };

  return {
    app: listener,
    subgraphUrls,
    cache,
    metrics,
    responseCache,
    planCacheStats: plans.stats,
    // The HTTP server's own timeout sits above the request deadline, which answers first.
    listenOptions: { maxHeaderBytes: config.maxHeaderBytes, requestTimeoutMs: config.requestTimeoutMs + 5_000 },
    readiness,
    async stop() {
      shedder?.stop();
      supergraphs.close();
      await apollo.stop();
      await Promise.all([...dataSources.values(), ...retiring].map((source) => source.close()));
      registry.close();
      await responseCache.close();
      await cache.close();
    },
  };
}

/** The supergraph to start on: from SUPERGRAPH_URL when set, else the file. No valid one, no start. */
async function initialSupergraph(config: GatewayConfig): Promise<LoadedSupergraph> {
  if (!config.supergraphUrl) return loadSupergraph(config.supergraphPath);
  const fetched = await fetchSupergraph(config.supergraphUrl.url, config.supergraphUrl);
  if (!fetched) throw new SupergraphError(`The supergraph at ${config.supergraphUrl.url} answered 304 to a first request.`);
  return parseSupergraph(fetched.sdl, config.supergraphUrl.url);
}
