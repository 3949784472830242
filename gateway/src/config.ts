import path from "node:path";
import { loadAuthConfig, logLevel, MAX_REQUEST_DEADLINE_MS, parseEnv, port, REPO_ROOT, type AuthConfig } from "@catalog/common/edge";
import { z } from "zod";
import { DEFAULT_OPERATION_LIMITS as LIMITS, type OperationLimits } from "./operation-limits.ts";

const DEV_ORIGINS = ["https://studio.apollographql.com", "https://sandbox.embed.apollographql.com"];

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: port(4000),
  HOST: z.string().default("127.0.0.1"),
  LOG_LEVEL: logLevel,
  SUPERGRAPH_PATH: z.string().default(path.join(REPO_ROOT, "schema", "supergraph.graphql")),
  /** Watch SUPERGRAPH_PATH and serve a new valid supergraph without a restart. */
  SUPERGRAPH_WATCH: z.enum(["true", "false", "1", "0"]).default("true").transform((v) => v === "true" || v === "1"),
  /** Set: the supergraph comes from this URL (at start, then polled) instead of SUPERGRAPH_PATH. */
  SUPERGRAPH_URL: z.url().optional(),
  SUPERGRAPH_POLL_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
  SUPERGRAPH_FETCH_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  SUPERGRAPH_MAX_BYTES: z.coerce.number().int().min(1_024).default(5_242_880),
  /** Resolves partners' API keys (POST { key } -> { partner }); unset: API keys are refused. */
  PARTNER_KEYS_URL: z.url().optional(),
  REDIS_URL: z.url().optional(),
  REDIS_KEY_PREFIX: z.string().default("catalog:"),
  APQ_TTL_SECONDS: z.coerce.number().int().min(1).default(86_400),
  RESPONSE_CACHE_ENABLED: z.enum(["true", "false", "1", "0"]).default("true").transform((v) => v === "true" || v === "1"),
  SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** The largest subgraph answer the gateway reads; past it the call fails, read no further. */
  SUBGRAPH_MAX_RESPONSE_BYTES: z.coerce.number().int().min(1_024).default(10_485_760),
  /** A query's entity calls of the same shape for the same viewer, begun in the same tick, sent as one call. */
  SUBGRAPH_ENTITY_BATCHING: z.enum(["true", "false", "1", "0"]).default("true").transform((v) => v === "true" || v === "1"),
  /** Retries of a query's subgraph call after a connection error (refused, reset): 0 turns them off. */
  SUBGRAPH_RETRIES: z.coerce.number().int().min(0).max(5).default(2),
  /** Backoff before retry n (from 0): a random wait up to this x 2^n, never past the request's deadline. */
  SUBGRAPH_RETRY_BASE_MS: z.coerce.number().int().min(1).max(10_000).default(50),
  /** A circuit breaker per subgraph: open when too many calls fail, probe again after a pause. */
  SUBGRAPH_BREAKER_ENABLED: z.enum(["true", "false", "1", "0"]).default("true").transform((v) => v === "true" || v === "1"),
  SUBGRAPH_BREAKER_ERROR_PERCENT: z.coerce.number().int().min(1).max(100).default(50),
  /** Calls within the window before the breaker may open (a few failures on a quiet gateway do not). */
  SUBGRAPH_BREAKER_MIN_CALLS: z.coerce.number().int().min(1).default(10),
  SUBGRAPH_BREAKER_WINDOW_MS: z.coerce.number().int().min(1_000).default(10_000),
  /** How long an open breaker fails calls fast before letting one probe call through. */
  SUBGRAPH_BREAKER_RESET_MS: z.coerce.number().int().min(100).default(5_000),
  /** Identical subgraph calls for the same viewer, in flight at once, made once (queries only). */
  SUBGRAPH_DEDUPE: z.enum(["true", "false", "1", "0"]).default("true").transform((v) => v === "true" || v === "1"),
  /**
   * Apollo's gateway sends usage data (host, CPU, memory, uptime) to Apollo every hour unless this
   * is set; ours does not unless an operator opts in with APOLLO_TELEMETRY_DISABLED=false.
   */
  APOLLO_TELEMETRY_DISABLED: z.enum(["true", "false", "1", "0"]).default("true").transform((v) => v === "true" || v === "1"),
  /**
   * Distinct operation names gateway_request_duration_seconds keeps as labels; later ones are
   * counted as "other", so callers inventing names cannot grow the series without bound.
   */
  METRICS_MAX_OPERATION_NAMES: z.coerce.number().int().min(0).max(10_000).default(100),
  /** Time each request-pipeline stage into gateway_pipeline_stage_seconds (off: no cost). */
  PIPELINE_TIMING: z.enum(["true", "false", "1", "0"]).default("false").transform((v) => v === "true" || v === "1"),
  /**
   * Mean event-loop delay (ms, over half a second) past which new GraphQL requests get 503 with
   * Retry-After instead of queueing behind the ones in flight; 0 turns shedding off.
   */
  SHED_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(0).default(500),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(MAX_REQUEST_DEADLINE_MS).default(30_000),
  MAX_REQUEST_BYTES: z.coerce.number().int().min(1_024).default(1_048_576),
  MAX_HEADER_BYTES: z.coerce.number().int().min(1_024).default(16_384),
  /** 0: HTTP batching off (a JSON array body is refused); n > 0: arrays of at most n operations. */
  MAX_BATCH_OPERATIONS: z.coerce.number().int().min(0).max(100).default(0),
  MAX_DEPTH: z.coerce.number().int().min(1).default(LIMITS.maxDepth),
  MAX_ALIASES: z.coerce.number().int().min(0).default(LIMITS.maxAliases),
  MAX_ROOT_FIELDS: z.coerce.number().int().min(1).default(LIMITS.maxRootFields),
  MAX_DIRECTIVES: z.coerce.number().int().min(0).default(LIMITS.maxDirectives),
  MAX_TOKENS: z.coerce.number().int().min(100).default(LIMITS.maxTokens),
  MAX_COST: z.coerce.number().int().min(1).default(LIMITS.maxCost),
  DEFAULT_LIST_SIZE: z.coerce.number().int().min(1).default(LIMITS.defaultListSize),
  RATE_LIMIT_ENABLED: z.enum(["true", "false", "1", "0"]).default("true").transform((v) => v === "true" || v === "1"),
  RATE_LIMIT_POINTS: z.coerce.number().int().min(1).default(600),
  RATE_LIMIT_ANONYMOUS_POINTS: z.coerce.number().int().min(1).default(300),
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).default(60),
  SIGNIN_RATE_LIMIT_POINTS: z.coerce.number().int().min(1).default(10),
  REVIEW_RATE_LIMIT_POINTS: z.coerce.number().int().min(1).default(20),
  REVIEW_RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).default(3600),
  PARTNER_MANIFEST_DIR: z.string().default(path.join(REPO_ROOT, "schema", "persisted", "manifests")),
  PARTNER_KEY_CACHE_SECONDS: z.coerce.number().int().min(0).max(300).default(5),
  /** Express "trust proxy": unset trusts no proxy, so X-Forwarded-For cannot fake a client IP. */
  TRUST_PROXY: z.string().optional(),
  CORS_ORIGINS: z.string().optional(),
  /** Unset: on outside production. */
  INTROSPECTION: z
    .enum(["true", "false", "1", "0"])
    .optional()
    .transform((value) => (value === undefined ? undefined : value === "true" || value === "1")),
});

export interface GatewayConfig {
  env: "development" | "production" | "test";
  port: number;
  host: string;
  logLevel: string;
  supergraphPath: string;
  /** Serve a new valid SUPERGRAPH_PATH as soon as it is written (ignored with supergraphUrl). */
  supergraphWatch: boolean;
  /** Where the supergraph is fetched and polled from instead of the file; undefined: the file. */
  supergraphUrl: { url: string; pollIntervalMs: number; timeoutMs: number; maxBytes: number } | undefined;
  /**
   * Overrides of the URLs in the supergraph, by the subgraph's name as an environment prefix
   * (`<NAME>_SUBGRAPH_URL`, the name upper-cased, other characters as `_`): any supergraph works.
   */
  subgraphUrls: Record<string, string>;
  /** Where partners' API keys are resolved; undefined: requests with a key are refused. */
  partnerKeysUrl: string | undefined;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  apqTtlSeconds: number;
  /** Whole-response cache for queries, by @cacheControl hints; purged by subgraphs on change. */
  responseCacheEnabled: boolean;
  subgraphTimeoutMs: number;
  subgraphMaxResponseBytes: number;
  subgraphRetries: { max: number; baseDelayMs: number };
  subgraphEntityBatching: boolean;
  /** 0: no load shedding. */
  shedEventLoopDelayMs: number;
  /** undefined: no breakers. */
  subgraphBreaker: { errorPercent: number; minCalls: number; windowMs: number; resetMs: number } | undefined;
  subgraphDedupe: boolean;
  apolloTelemetryDisabled: boolean;
  pipelineTiming: boolean;
  metricsMaxOperationNames: number;
  corsOrigins: string[];
  /** Sandbox and introspection: on outside production unless INTROSPECTION says otherwise. */
  introspection: boolean;
  auth: AuthConfig;
  requestTimeoutMs: number;
  maxRequestBytes: number;
  maxHeaderBytes: number;
  maxBatchOperations: number;
  limits: OperationLimits;
  rateLimit: { enabled: boolean; points: number; anonymousPoints: number; windowSeconds: number };
  /** Sign-in mutations per client IP per rate-limit window. */
  signInRateLimit: number;
  /** Review writes (createReview, updateReview, deleteReview) per signed-in user per window. */
  reviewRateLimit: { points: number; windowSeconds: number };
  trustProxy: string | number | false;
  /** Partners' persisted query manifests (`<partner>.json`), reloaded when they change. */
  partnerManifestDir: string;
  /** How long an API key's lookup is reused; a revoked key stops working within this time. */
  partnerKeyCacheSeconds: number;
}

/**
 * A hop count or addresses/subnets as Express understands them. `true` is refused: Express would
 * then take the left-most X-Forwarded-For entry, which any client can write, and per-IP limits
 * would count whatever the client claims.
 */
function trustProxy(value: string | undefined): string | number | false {
  if (value === undefined || value === "" || value === "false") return false;
  if (value === "true") {
    throw new Error("Invalid configuration:\n  TRUST_PROXY: use a hop count (e.g. 1) or proxy addresses, not true (spoofable)");
  }
  return /^\d+$/.test(value) ? Number(value) : value;
}

/**
 * Typed replacements for what the environment says, for an assembly that knows better (the
 * subgraphs' URLs once they listen, a port, the Redis it shares). `subgraphUrls` adds to the
 * environment's overrides, by the same keys (`subgraphEnvName`).
 */
export type GatewayOverrides = Partial<Omit<GatewayConfig, "subgraphUrls">> & { subgraphUrls?: Record<string, string> };

export function withGatewayOverrides(config: GatewayConfig, overrides: GatewayOverrides): GatewayConfig {
  return { ...config, ...overrides, subgraphUrls: { ...config.subgraphUrls, ...overrides.subgraphUrls } };
}

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env, overrides: GatewayOverrides = {}): GatewayConfig {
  return withGatewayOverrides(configFromEnv(env), overrides);
}

function configFromEnv(env: Record<string, string | undefined>): GatewayConfig {
  const parsed = parseEnv(schema, env);
  const production = parsed.NODE_ENV === "production";
  const subgraphUrls: Record<string, string> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    const prefix = /^([A-Z][A-Z0-9_]*)_SUBGRAPH_URL$/.exec(key)?.[1];
    if (!prefix || !value) continue;
    if (z.url().safeParse(value).success) subgraphUrls[prefix] = value;
    else problems.push(`  ${key}: Invalid URL`);
  }
  if (problems.length) throw new Error(`Invalid configuration:\n${problems.join("\n")}`);
  return {
    env: parsed.NODE_ENV,
    port: parsed.PORT,
    host: parsed.HOST,
    logLevel: parsed.LOG_LEVEL,
    supergraphPath: parsed.SUPERGRAPH_PATH,
    supergraphWatch: parsed.SUPERGRAPH_WATCH,
    supergraphUrl: parsed.SUPERGRAPH_URL
      ? {
          url: parsed.SUPERGRAPH_URL,
          pollIntervalMs: parsed.SUPERGRAPH_POLL_INTERVAL_MS,
          timeoutMs: parsed.SUPERGRAPH_FETCH_TIMEOUT_MS,
          maxBytes: parsed.SUPERGRAPH_MAX_BYTES,
        }
      : undefined,
    subgraphUrls,
    partnerKeysUrl: parsed.PARTNER_KEYS_URL,
    redisUrl: parsed.REDIS_URL,
    redisKeyPrefix: parsed.REDIS_KEY_PREFIX,
    apqTtlSeconds: parsed.APQ_TTL_SECONDS,
    responseCacheEnabled: parsed.RESPONSE_CACHE_ENABLED,
    subgraphTimeoutMs: parsed.SUBGRAPH_TIMEOUT_MS,
    subgraphMaxResponseBytes: parsed.SUBGRAPH_MAX_RESPONSE_BYTES,
    subgraphRetries: { max: parsed.SUBGRAPH_RETRIES, baseDelayMs: parsed.SUBGRAPH_RETRY_BASE_MS },
    subgraphEntityBatching: parsed.SUBGRAPH_ENTITY_BATCHING,
    shedEventLoopDelayMs: parsed.SHED_EVENT_LOOP_DELAY_MS,
    subgraphBreaker: parsed.SUBGRAPH_BREAKER_ENABLED
      ? {
          errorPercent: parsed.SUBGRAPH_BREAKER_ERROR_PERCENT,
          minCalls: parsed.SUBGRAPH_BREAKER_MIN_CALLS,
          windowMs: parsed.SUBGRAPH_BREAKER_WINDOW_MS,
          resetMs: parsed.SUBGRAPH_BREAKER_RESET_MS,
        }
      : undefined,
    subgraphDedupe: parsed.SUBGRAPH_DEDUPE,
    apolloTelemetryDisabled: parsed.APOLLO_TELEMETRY_DISABLED,
    pipelineTiming: parsed.PIPELINE_TIMING,
    metricsMaxOperationNames: parsed.METRICS_MAX_OPERATION_NAMES,
    corsOrigins: parsed.CORS_ORIGINS
      ? parsed.CORS_ORIGINS.split(",").map((origin) => origin.trim()).filter(Boolean)
      : production
        ? []
        : DEV_ORIGINS,
    introspection: parsed.INTROSPECTION ?? !production,
    auth: loadAuthConfig(env),
    requestTimeoutMs: parsed.REQUEST_TIMEOUT_MS,
    maxRequestBytes: parsed.MAX_REQUEST_BYTES,
    maxHeaderBytes: parsed.MAX_HEADER_BYTES,
    maxBatchOperations: parsed.MAX_BATCH_OPERATIONS,
    limits: {
      maxDepth: parsed.MAX_DEPTH,
      maxAliases: parsed.MAX_ALIASES,
      maxRootFields: parsed.MAX_ROOT_FIELDS,
      maxDirectives: parsed.MAX_DIRECTIVES,
      maxTokens: parsed.MAX_TOKENS,
      maxCost: parsed.MAX_COST,
      defaultListSize: parsed.DEFAULT_LIST_SIZE,
    },
    rateLimit: {
      enabled: parsed.RATE_LIMIT_ENABLED,
      points: parsed.RATE_LIMIT_POINTS,
      anonymousPoints: parsed.RATE_LIMIT_ANONYMOUS_POINTS,
      windowSeconds: parsed.RATE_LIMIT_WINDOW_SECONDS,
    },
    signInRateLimit: parsed.SIGNIN_RATE_LIMIT_POINTS,
    reviewRateLimit: { points: parsed.REVIEW_RATE_LIMIT_POINTS, windowSeconds: parsed.REVIEW_RATE_LIMIT_WINDOW_SECONDS },
    trustProxy: trustProxy(parsed.TRUST_PROXY),
    partnerManifestDir: parsed.PARTNER_MANIFEST_DIR,
    partnerKeyCacheSeconds: parsed.PARTNER_KEY_CACHE_SECONDS,
  };
}

/** The environment prefix of a subgraph's URL override: `users` -> USERS (USERS_SUBGRAPH_URL). */
export function subgraphEnvName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}
