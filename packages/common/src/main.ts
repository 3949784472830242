import path from "node:path";
import { z } from "zod";
import { loadAuthConfig } from "./auth/auth-config.ts";
import { startSubgraphService, type PrismaLike, type SubgraphModule, type SubgraphServiceConfig } from "./bootstrap.ts";
import { booleanFlag, logLevel, parseEnv, port } from "./config.ts";
import { DEFAULT_POOL } from "./database.ts";
import { configuredDatabaseUrl, DEFAULT_SUBGRAPH_PORTS, type SubgraphName } from "./database-url.ts";
import { stopOnSignal } from "./lifecycle.ts";
import { createLogger } from "./logger.ts";
import { REPO_ROOT } from "./paths.ts";

/** Each subgraph's serving pool on PostgreSQL (per subgraph: npm start runs four such pools). */
export const databasePoolEnv = {
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(DEFAULT_POOL.size),
  DB_POOL_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(DEFAULT_POOL.acquireTimeoutMs),
};

/** Config of a subgraph run on its own (docker-compose, or `npm start -w @catalog/<name>`). */
export function subgraphEnvSchema(defaultPort: number) {
  return z.object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    PORT: port(defaultPort),
    HOST: z.string().default("127.0.0.1"),
    DATA_DIR: z.string().default(path.join(REPO_ROOT, ".data")),
    LOG_LEVEL: logLevel,
    MIGRATE_ON_START: booleanFlag(true),
    /** The gateway's Redis: this subgraph purges cached responses there when it changes data. */
    REDIS_URL: z.url().optional(),
    REDIS_KEY_PREFIX: z.string().default("catalog:"),
    /** Unset: on outside production. The demo data has a public admin password: never in production. */
    SEED_ON_START: z.enum(["true", "false", "1", "0"]).optional(),
    /** After SIGTERM, how long requests in flight may run before their connections are cut. */
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
    ...databasePoolEnv,
    /** Peers, named as the gateway names them; unset: the peer's default local port. */
    USERS_SUBGRAPH_URL: z.url().optional(),
    PRODUCTS_SUBGRAPH_URL: z.url().optional(),
    ORDERS_SUBGRAPH_URL: z.url().optional(),
    INVENTORY_SUBGRAPH_URL: z.url().optional(),
  });
}

/**
 * The demo catalog's accounts share a published password, admin included, so it is never loaded in
 * production: asking for it there is a configuration error, not something to do quietly.
 */
export function demoSeedAllowed(nodeEnv: string | undefined, flag: string | undefined): boolean {
  const wanted = flag === undefined ? nodeEnv !== "production" : flag === "true" || flag === "1";
  if (wanted && nodeEnv === "production") {
    throw new Error(
      "Invalid configuration:\n  SEED_ON_START: the demo data has a public admin password and is not loaded in production",
    );
  }
  return wanted;
}

/**
 * A subgraph service's typed config from the environment (the process's, or one a caller built).
 * `overrides` replace whole fields: an assembly that knows the port or peers sets them here.
 */
export function loadSubgraphConfig(
  module: { name: SubgraphName; defaultPort: number },
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: Partial<SubgraphServiceConfig> = {},
): SubgraphServiceConfig {
  const parsed = parseEnv(subgraphEnvSchema(module.defaultPort), env);
  const databaseUrl = configuredDatabaseUrl(module.name, env);
  const peer = (name: SubgraphName, configured: string | undefined) => configured ?? `http://127.0.0.1:${DEFAULT_SUBGRAPH_PORTS[name]}/graphql`;
  const peerUrls = {
    users: peer("users", parsed.USERS_SUBGRAPH_URL),
    products: peer("products", parsed.PRODUCTS_SUBGRAPH_URL),
    orders: peer("orders", parsed.ORDERS_SUBGRAPH_URL),
    inventory: peer("inventory", parsed.INVENTORY_SUBGRAPH_URL),
  };
  return {
    port: parsed.PORT,
    host: parsed.HOST,
    logLevel: parsed.LOG_LEVEL,
    introspection: parsed.NODE_ENV !== "production",
    migrate: parsed.MIGRATE_ON_START,
    seed: demoSeedAllowed(parsed.NODE_ENV, parsed.SEED_ON_START),
    database: databaseUrl
      ? {
          kind: "postgres",
          url: databaseUrl,
          create: true,
          pool: { poolSize: parsed.DB_POOL_SIZE, acquireTimeoutMs: parsed.DB_POOL_ACQUIRE_TIMEOUT_MS },
        }
      : { kind: "embedded", dir: path.join(parsed.DATA_DIR, module.name), fresh: false },
    redis: parsed.REDIS_URL ? { url: parsed.REDIS_URL, keyPrefix: parsed.REDIS_KEY_PREFIX } : undefined,
    auth: loadAuthConfig(env),
    peerUrls,
    shutdownGraceMs: parsed.SHUTDOWN_GRACE_MS,
    settings: env,
    ...overrides,
  };
}

/** Entry point shared by every subgraph's src/index.ts: parse config, start the service, stop on SIGTERM. */
export async function runSubgraphMain<P extends PrismaLike>(module: SubgraphModule<P>): Promise<void> {
  let config: SubgraphServiceConfig;
  try {
    config = loadSubgraphConfig(module);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  const logger = createLogger(`subgraph-${module.name}`, config.logLevel);
  try {
    const service = await startSubgraphService(module, config, { logger });
    stopOnSignal(logger, () => service.shutdown());
  } catch (error) {
    logger.fatal({ err: error }, "subgraph failed to start");
    process.exit(1);
  }
}
