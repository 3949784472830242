import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import {
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from "@apollo/server/plugin/disabled";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import {
  createTokenVerifier,
  errorMaskingPlugin,
  inputGuardPlugin,
  jsonErrorHandler,
  requestIdMiddleware,
  sendError,
  signIdentity,
  memoryResponseCacheStore,
  redisResponseCacheStore,
  type ListenOptions,
  type Logger,
  type ResponseCacheStore,
  type Viewer,
} from "@catalog/common";
import cors from "cors";
import express, { type Express, type RequestHandler } from "express";
import { createCache, type CacheHandle } from "./cache.ts";
import { subgraphEnvName, type GatewayConfig } from "./config.ts";
import { authenticate, refuseInvalidCredentials } from "./auth.ts";
import { batchGuard } from "./batching.ts";
import type { GatewayContext } from "./context.ts";
import { SubgraphDataSource } from "./data-source.ts";
import { deadlineMiddleware } from "./deadline.ts";
import { createMetrics, type GatewayMetrics } from "./metrics.ts";
import { costModelFromSupergraph, operationLimitsParseOptions, operationLimitsPlugin } from "./operation-limits.ts";
import { createRateLimiter, type Caller } from "./rate-limit.ts";
import { signInLimitPlugin } from "./signin-limit.ts";
import { entityTypesOf } from "./cache-tags.ts";
import { queryPlanCache, type PlanCacheStats } from "./plan-cache.ts";
import { responseCachePlugin } from "./response-cache.ts";
import { apiSchemaOf } from "./persisted/manifest.ts";
import { partnerAuthentication, partnerQuotas, persistedOnly } from "./persisted/partners.ts";
import { persistedOperationRegistry } from "./persisted/registry.ts";
import { probeSubgraph, type ReadinessReport } from "./readiness.ts";
import { loadSupergraph } from "./supergraph.ts";

/** Who a rate limit counts against: the signed-in user, else the client's address. */
const callerOf = (req: express.Request, res: express.Response): Caller => {
  const viewer = res.locals.viewer as Viewer | null;
  return viewer ? { kind: "user", id: viewer.userId } : { kind: "ip", id: req.ip ?? "unknown" };
};

const skipForPartners =
  (handler: express.RequestHandler): express.RequestHandler =>
  (req, res, next) =>
    res.locals.partner ? next() : handler(req, res, next);

/** What a GraphQL response can be sent as; text/html is the Sandbox landing page, GET only. */
const GRAPHQL_MEDIA_TYPES = ["application/graphql-response+json", "application/json"];

/**
 * GraphQL over HTTP: an Accept header that admits no media type we can answer with gets 406
 * before anything runs. Apollo Server sends that 406 only after executing the operation, so a
 * mutation sent with `Accept: text/xml` would change data and then refuse to say what it did.
 * text/html counts on GET alone, where it asks for the landing page; an empty header counts as
 * none, as Apollo Server treats it.
 */
const acceptGuard: RequestHandler = (req, res, next) => {
  if (!req.headers.accept) return next();
  if (req.accepts(req.method === "GET" ? [...GRAPHQL_MEDIA_TYPES, "text/html"] : GRAPHQL_MEDIA_TYPES)) return next();
  sendError(res, 406, "NOT_ACCEPTABLE", `The Accept header must admit ${GRAPHQL_MEDIA_TYPES.join(" or ")}.`);
};

export interface Gateway {
  app: Express;
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
  const supergraph = await loadSupergraph(config.supergraphPath);
  const subgraphUrls = Object.fromEntries(
    supergraph.subgraphs.map(({ name, url }) => [name, config.subgraphUrls[subgraphEnvName(name)] ?? url]),
  );
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
  const dataSources: SubgraphDataSource[] = [];
  const plans = queryPlanCache({ shared: cache.redis ? cache.cache : undefined, supergraphSdl: supergraph.sdl });
  const gateway = new ApolloGateway({
    supergraphSdl: supergraph.sdl,
    logger,
    queryPlannerConfig: { cache: plans.cache },
    buildService: ({ name, url }) => {
      const target = subgraphUrls[name] ?? url;
      if (!target) throw new Error(`the supergraph names no URL for subgraph ${name}`);
      const source = new SubgraphDataSource(name, target, config.subgraphTimeoutMs, logger);
      dataSources.push(source);
      return source;
    },
  });
  const responseCache =
    shared.responseCache ?? (cache.redis ? redisResponseCacheStore(cache.redis, { logger }) : memoryResponseCacheStore());
  responseCache.onInvalidate((tags) => metrics.cacheInvalidations.inc(tags.length));
  // Until Redis is connected, rate limits fail open; give it a moment so a normal start enforces
  // them from the first request. A Redis that is down does not hold the gateway back for longer.
  if (!(await cache.connected(2_000))) logger.warn("redis not connected at start; serving without it until it is");
  const rateLimiter = createRateLimiter({
    redis: cache.redis,
    keyPrefix: config.redisKeyPrefix,
    config: config.rateLimit,
    logger,
    metrics,
  });
  const signInLimiter = createRateLimiter({
    redis: cache.redis,
    keyPrefix: `${config.redisKeyPrefix}signin:`,
    config: { points: config.signInRateLimit, anonymousPoints: config.signInRateLimit, windowSeconds: config.rateLimit.windowSeconds },
    logger,
    metrics,
  });
  const rejected = (code: string) => metrics.rejected.inc({ code });
  const registry = await persistedOperationRegistry({ dir: config.partnerManifestDir, schema: apiSchemaOf(supergraph.sdl), logger });
  const apollo = new ApolloServer<GatewayContext>({
    gateway,
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
    plugins: [
      config.introspection
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, footer: false })
        : ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      inputGuardPlugin<GatewayContext>(),
      operationLimitsPlugin<GatewayContext>({
        limits: config.limits,
        costModel: costModelFromSupergraph(supergraph.sdl),
        onReject: rejected,
      }),
      signInLimitPlugin(signInLimiter, rejected),
      ...(config.responseCacheEnabled
        ? [
            responseCachePlugin({
              store: responseCache,
              entities: entityTypesOf(supergraph.sdl),
              supergraphSdl: supergraph.sdl,
              metrics,
              logger,
            }),
          ]
        : []),
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
  // Sandbox is served at the root (what people open first); both paths answer GraphQL.
  app.all(
    ["/", "/graphql"],
    cors<cors.CorsRequest>({ origin: config.corsOrigins, credentials: true }),
    acceptGuard,
    authenticate(verifier, metrics, logger),
    partnerAuthentication({
      resolveUrl: config.partnerKeysUrl,
      internalSecret,
      cacheSeconds: config.partnerKeyCacheSeconds,
      metrics,
      logger,
      ipLimiter: config.rateLimit.enabled ? rateLimiter : undefined,
    }),
    // A partner's own quotas (partnerQuotas) replace the general per-caller limit.
    ...(config.rateLimit.enabled ? [skipForPartners(rateLimiter.middleware(callerOf))] : []),
    refuseInvalidCredentials,
    partnerQuotas({ redis: cache.redis, keyPrefix: config.redisKeyPrefix, metrics, logger }),
    express.json({ limit: config.maxRequestBytes }),
    batchGuard(config.maxBatchOperations),
    persistedOnly({ registry, metrics, logger }),
    deadlineMiddleware(config.requestTimeoutMs),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const requestId = res.locals.requestId as string;
        const viewer = res.locals.viewer as Viewer | null;
        let identityToken: string | undefined;
        return {
          requestId,
          viewer,
          // Signed on the first subgraph call: cache hits and refused operations never need it.
          get identityToken() {
            return (identityToken ??= signIdentity(internalSecret, viewer, requestId));
          },
          clientIp: req.ip ?? "unknown",
          deadline: res.locals.deadline as AbortSignal,
        };
      },
    }),
  );
  app.use(jsonErrorHandler(logger));

  return {
    app,
    subgraphUrls,
    cache,
    metrics,
    responseCache,
    planCacheStats: plans.stats,
    // The HTTP server's own timeout sits above the request deadline, which answers first.
    listenOptions: { maxHeaderBytes: config.maxHeaderBytes, requestTimeoutMs: config.requestTimeoutMs + 5_000 },
    readiness,
    async stop() {
      await apollo.stop();
      await Promise.all(dataSources.map((source) => source.close()));
      registry.close();
      await responseCache.close();
      await cache.close();
    },
  };
}
