import path from "node:path";
import { z } from "zod";
import { loadAuthConfig } from "./auth/auth-config.ts";
import { openSubgraphDatabase, startSubgraph, subgraphAuth, type PrismaLike, type SubgraphModule } from "./bootstrap.ts";
import { booleanFlag, logLevel, parseEnv, port } from "./config.ts";
import { DEFAULT_POOL } from "./database.ts";
import { createLogger } from "./logger.ts";
import { REPO_ROOT } from "./paths.ts";
import { cacheInvalidator } from "./response-cache/invalidator.ts";
import { openPurgeStore } from "./response-cache/store.ts";
import { DEFAULT_SUBGRAPH_PORTS } from "./database-url.ts";

/** Each subgraph's serving pool on PostgreSQL (per process: npm start runs four such pools). */
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
    ...databasePoolEnv,
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

/** Entry point shared by every subgraph's src/index.ts: parse config, open the database, listen. */
export async function runSubgraphMain<P extends PrismaLike>(module: SubgraphModule<P>): Promise<void> {
  let config;
  let auth;
  try {
    config = parseEnv(subgraphEnvSchema(module.defaultPort));
    demoSeedAllowed(config.NODE_ENV, config.SEED_ON_START);
    auth = subgraphAuth(module, loadAuthConfig());
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  const logger = createLogger(`subgraph-${module.name}`, config.LOG_LEVEL);
  if (!config.REDIS_URL) {
    logger.warn("REDIS_URL is not set: changes made here cannot purge the gateway's response cache");
  }
  const purge = config.REDIS_URL ? await openPurgeStore(config.REDIS_URL, { keyPrefix: config.REDIS_KEY_PREFIX, logger }) : undefined;
  if (purge && !purge.connected) logger.warn("redis not connected at start; purges will retry");
  const redis = purge?.redis;
  try {
    const db = await openSubgraphDatabase(module.name, {
      env: process.env,
      dataDir: config.DATA_DIR,
      pool: { poolSize: config.DB_POOL_SIZE, acquireTimeoutMs: config.DB_POOL_ACQUIRE_TIMEOUT_MS },
    });
    const server = await startSubgraph(module, {
      db,
      logger,
      port: config.PORT,
      host: config.HOST,
      introspection: config.NODE_ENV !== "production",
      migrate: config.MIGRATE_ON_START,
      auth,
      cache: cacheInvalidator(purge?.store, logger),
      env: process.env,
      seed: demoSeedAllowed(config.NODE_ENV, config.SEED_ON_START),
      // e.g. PRODUCTS_SUBGRAPH_URL, as the gateway names them; default: the local default port.
      peers: (name) =>
        process.env[`${name.toUpperCase()}_SUBGRAPH_URL`] ?? `http://127.0.0.1:${DEFAULT_SUBGRAPH_PORTS[name]}/graphql`,
    });
    const shutdown = async () => {
      logger.info("shutting down");
      await server.close();
      redis?.disconnect();
      process.exit(0);
    };
    process.once("SIGINT", shutdown);
    process.once("SIGTERM", shutdown);
  } catch (error) {
    logger.fatal({ err: error }, "subgraph failed to start");
    process.exit(1);
  }
}
