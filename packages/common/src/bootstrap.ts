import path from "node:path";
import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { createTokenIssuer, type TokenIssuer } from "./auth/access-tokens.ts";
import type { AuthConfig } from "./auth/auth-config.ts";
import { cacheInvalidator, type CacheInvalidator } from "./response-cache/invalidator.ts";
import { openPurgeStore, type ResponseCacheStore } from "./response-cache/store.ts";
import { configuredDatabaseUrl, type SubgraphName } from "./database-url.ts";
import { ensurePostgresDatabase, openEmbedded, openPostgres, type Database, type PostgresOptions } from "./database.ts";
import { listen, type RunningServer } from "./http.ts";
import type { Logger } from "./logger.ts";
import { applyMigrations } from "./migrations.ts";
import type { SubgraphApp } from "./subgraph-app.ts";

export interface PrismaLike {
  $disconnect(): Promise<void>;
}

/** How a subgraph reaches another one's GraphQL endpoint (resolved when called, not at build). */
export type PeerUrls = (name: SubgraphName) => string | undefined;

/** Secrets a subgraph holds: the one that verifies the gateway, and (users only) the token issuer. */
export interface SubgraphAuth {
  internalSecrets: readonly string[];
  /** Present where access tokens are issued (the users subgraph). */
  issuer?: TokenIssuer;
}

export function subgraphAuth(module: { issuesTokens?: boolean }, config: AuthConfig): SubgraphAuth {
  return {
    internalSecrets: config.internalSecrets,
    ...(module.issuesTokens ? { issuer: createTokenIssuer(config) } : {}),
  };
}

export interface SubgraphDeps<P> {
  prisma: P;
  db: Database;
  logger: Logger;
  introspection: boolean;
  peers: PeerUrls;
  auth: SubgraphAuth;
  /** Purges the gateway's response cache after this subgraph changes data. */
  cache: CacheInvalidator;
  /** The process environment (or a test's), for a subgraph's own settings, parsed with zod at build. */
  env: Readonly<Record<string, string | undefined>>;
}

/** What a subgraph package exports so one launcher can migrate, seed and serve any of them. */
export interface SubgraphModule<P extends PrismaLike> {
  name: SubgraphName;
  /** This subgraph signs access tokens (it is given the issuer and its keys). */
  issuesTokens?: boolean;
  defaultPort: number;
  createPrisma(adapter: SqlDriverAdapterFactory): P;
  /** Seeds the demo catalog when the subgraph's tables are empty; returns whether it wrote. */
  seed(prisma: P, db: Database): Promise<boolean>;
  build(deps: SubgraphDeps<P>): Promise<SubgraphApp>;
}

/**
 * Loads the demo data when the database has none, then refreshes the planner's statistics: a
 * freshly filled table has none until autovacuum gets to it, and until then PostgreSQL plans
 * listings as full scans and sorts (0.8 ms where an index answers in 0.15 ms), then switches
 * plans mid-run when autovacuum's ANALYZE lands.
 */
export async function seedDemoData<P extends PrismaLike>(module: Pick<SubgraphModule<P>, "seed">, prisma: P, db: Database): Promise<boolean> {
  const seeded = await module.seed(prisma, db);
  if (seeded) await db.exec("ANALYZE");
  return seeded;
}

export interface DatabaseChoice {
  env: Record<string, string | undefined>;
  /** Folder for embedded data; each subgraph gets its own subfolder. */
  dataDir: string;
  fresh?: boolean;
}

/** Real PostgreSQL when a URL is configured, else an embedded PGlite under `dataDir/<subgraph>`. */
export async function openSubgraphDatabase(name: SubgraphName, choice: DatabaseChoice): Promise<Database> {
  const url = configuredDatabaseUrl(name, choice.env);
  if (url) {
    await ensurePostgresDatabase(url);
    return openPostgres(url);
  }
  return openEmbedded(path.join(choice.dataDir, name), { fresh: choice.fresh ?? false });
}

export interface StartedSubgraph<P> extends RunningServer {
  name: SubgraphName;
  prisma: P;
  db: Database;
  seeded: boolean;
  /**
   * Graceful stop (SIGTERM): stop taking connections, let requests in flight finish (cut after
   * the config's `shutdownGraceMs`), stop the job workers, then close the pools and Redis.
   * `close()` does the same at once, cutting open connections (tests, failed starts).
   */
  shutdown(): Promise<void>;
  /** SubgraphApp#catchUp: once its peers are reachable, what it reads from them before serving. */
  catchUp(): Promise<void>;
}

/** Where a subgraph keeps its data: a PostgreSQL database, or an embedded one in a folder. */
export type SubgraphDatabaseConfig =
  | {
      kind: "postgres";
      url: string;
      /** The pool Prisma and the hot reads share: its size and queue limits (DB_POOL_*). */
      pool?: PostgresOptions;
      /** Create the database when the server has none by that name (a first start). */
      create: boolean;
    }
  | { kind: "embedded"; dir: string; fresh: boolean };

/** Everything one subgraph service needs to run, typed; `loadSubgraphConfig` builds it from env. */
export interface SubgraphServiceConfig {
  port: number;
  host: string;
  logLevel: string;
  introspection: boolean;
  migrate: boolean;
  /** Load the demo catalog when the database is empty. */
  seed: boolean;
  database: SubgraphDatabaseConfig;
  /** The gateway's Redis, where this subgraph purges cached responses when it changes data. */
  redis: { url: string; keyPrefix: string } | undefined;
  auth: AuthConfig;
  /** Where this subgraph calls a peer (orders calls products and inventory). */
  peerUrls: Partial<Record<SubgraphName, string>>;
  /** After SIGTERM, how long requests in flight may take before their connections are cut. */
  shutdownGraceMs: number;
  /** The subgraph's own settings (e.g. orders' ORDER_JOBS_*), which its module parses with zod at build. */
  settings: Readonly<Record<string, string | undefined>>;
}

/** What a service shares with others in one process (`npm start`, tests) instead of opening its own. */
export interface SubgraphServiceShared {
  logger: Logger;
  /** Replaces `config.peerUrls`: looked up on each call, so a system can fill it once all listen. */
  peers?: PeerUrls;
  /** Replaces a Redis connection of the service's own. */
  cache?: CacheInvalidator;
}

async function openDatabase(config: SubgraphDatabaseConfig): Promise<Database> {
  if (config.kind === "embedded") return openEmbedded(config.dir, { fresh: config.fresh });
  if (config.create) await ensurePostgresDatabase(config.url);
  return openPostgres(config.url, config.pool);
}

/**
 * One subgraph service: open its database, migrate and seed as configured, build it and listen.
 * The per-process entry (`runSubgraphMain`), `npm start` and the tests all start subgraphs here.
 */
export async function startSubgraphService<P extends PrismaLike>(
  module: SubgraphModule<P>,
  config: SubgraphServiceConfig,
  shared: SubgraphServiceShared,
): Promise<StartedSubgraph<P>> {
  const { logger } = shared;
  let purge: Awaited<ReturnType<typeof openPurgeStore>> | undefined;
  if (!shared.cache && config.redis) {
    purge = await openPurgeStore(config.redis.url, { keyPrefix: config.redis.keyPrefix, logger });
    if (!purge.connected) logger.warn("redis not connected at start; purges will retry");
  } else if (!shared.cache) {
    logger.warn("REDIS_URL is not set: changes made here cannot purge the gateway's response cache");
  }
  const closeRedis = () => purge?.redis.disconnect();
  let db: Database | undefined;
  try {
    db = await openDatabase(config.database);
    return await serve(module, config, shared, db, purge?.store, closeRedis);
  } catch (error) {
    await db?.close();
    closeRedis();
    throw error;
  }
}

async function serve<P extends PrismaLike>(
  module: SubgraphModule<P>,
  config: SubgraphServiceConfig,
  shared: SubgraphServiceShared,
  db: Database,
  purgeStore: ResponseCacheStore | undefined,
  closeRedis: () => void,
): Promise<StartedSubgraph<P>> {
  const { logger } = shared;
  if (config.migrate) {
    const result = await applyMigrations(db, module.name);
    if (result.applied.length) logger.info({ applied: result.applied }, "applied migrations");
  }
  const prisma = module.createPrisma(db.adapter);
  const seeded = config.seed ? await seedDemoData(module, prisma, db) : false;
  if (seeded) logger.info("seeded demo data");
  const app = await module.build({
    prisma,
    db,
    logger,
    introspection: config.introspection,
    peers: shared.peers ?? ((name) => config.peerUrls[name]),
    auth: subgraphAuth(module, config.auth),
    cache: shared.cache ?? cacheInvalidator(purgeStore, logger),
    env: config.settings,
  });
  let server: RunningServer;
  try {
    server = await listen(app.app, config.port, config.host);
  } catch (error) {
    await app.stop();
    await prisma.$disconnect();
    throw error;
  }
  logger.info({ url: `${server.url}/graphql`, database: db.location }, "subgraph listening");
  // Workers stop after the last request is answered: a request in flight may still enqueue a job.
  const release = async () => {
    await app.stop();
    await prisma.$disconnect();
    await db.close();
    closeRedis();
  };
  return {
    ...server,
    name: module.name,
    prisma,
    db,
    seeded,
    catchUp: () => app.catchUp?.() ?? Promise.resolve(),
    async close() {
      await server.close();
      await release();
    },
    async shutdown() {
      await server.drain(config.shutdownGraceMs);
      await release();
    },
  };
}
