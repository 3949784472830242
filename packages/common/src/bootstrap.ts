import path from "node:path";
import type { SqlDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { createTokenIssuer, type TokenIssuer } from "./auth/access-tokens.ts";
import type { AuthConfig } from "./auth/auth-config.ts";
import type { CacheInvalidator } from "./response-cache/invalidator.ts";
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
  /** The serving pool on PostgreSQL (DB_POOL_SIZE, DB_POOL_ACQUIRE_TIMEOUT_MS); defaults otherwise. */
  pool?: PostgresOptions;
}

/** Real PostgreSQL when a URL is configured, else an embedded PGlite under `dataDir/<subgraph>`. */
export async function openSubgraphDatabase(name: SubgraphName, choice: DatabaseChoice): Promise<Database> {
  const url = configuredDatabaseUrl(name, choice.env);
  if (url) {
    await ensurePostgresDatabase(url);
    return openPostgres(url, choice.pool);
  }
  return openEmbedded(path.join(choice.dataDir, name), { fresh: choice.fresh ?? false });
}

export interface StartedSubgraph<P> extends RunningServer {
  name: SubgraphName;
  prisma: P;
  db: Database;
  seeded: boolean;
}

export async function startSubgraph<P extends PrismaLike>(
  module: SubgraphModule<P>,
  options: {
    db: Database;
    logger: Logger;
    port: number;
    host?: string;
    introspection: boolean;
    migrate: boolean;
    seed: boolean;
    peers: PeerUrls;
    auth: SubgraphAuth;
    cache: CacheInvalidator;
    env?: Readonly<Record<string, string | undefined>>;
  },
): Promise<StartedSubgraph<P>> {
  const { db, logger } = options;
  if (options.migrate) {
    const result = await applyMigrations(db, module.name);
    if (result.applied.length) logger.info({ applied: result.applied }, "applied migrations");
  }
  const prisma = module.createPrisma(db.adapter);
  const seeded = options.seed ? await seedDemoData(module, prisma, db) : false;
  if (seeded) logger.info("seeded demo data");
  const app = await module.build({ prisma, db, logger, introspection: options.introspection, peers: options.peers, auth: options.auth, cache: options.cache, env: options.env ?? {} });
  const server = await listen(app.app, options.port, options.host);
  logger.info({ url: `${server.url}/graphql`, database: db.location }, "subgraph listening");
  return {
    ...server,
    name: module.name,
    prisma,
    db,
    seeded,
    async close() {
      await server.close();
      await app.stop();
      await prisma.$disconnect();
      await db.close();
    },
  };
}
