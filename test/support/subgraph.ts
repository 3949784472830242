import { cacheInvalidator, openPostgres, subgraphAuth, type CacheInvalidator, type PeerUrls, type Viewer, type PrismaLike, type SubgraphApp, type SubgraphModule } from "@catalog/common";
import { inject } from "vitest";
import { testAuthConfig } from "./auth.ts";
import { logger, TEST_SUBGRAPH_ENV } from "./stack.ts";

export interface SubgraphHarness<P> {
  prisma: P;
  server: SubgraphApp;
  execute: SubgraphApp["execute"];
  close(): Promise<void>;
}

/**
 * One subgraph in-process (no HTTP) on this run's real database, for executeOperation tests.
 * `execute` runs as `viewer` unless a call names another (null: anonymous).
 */
export async function subgraphHarness<P extends PrismaLike>(
  module: SubgraphModule<P>,
  options: { peers?: PeerUrls; viewer?: Viewer | null; cache?: CacheInvalidator; env?: Record<string, string> } = {},
): Promise<SubgraphHarness<P>> {
  const peers = options.peers ?? (() => undefined);
  const defaultViewer = options.viewer ?? null;
  const db = openPostgres(inject("databaseUrls")[module.name], { poolSize: 4, acquireTimeoutMs: 15_000 });
  const prisma = module.createPrisma(db.adapter);
  const server = await module.build({
    prisma,
    db,
    logger,
    introspection: true,
    peers,
    auth: subgraphAuth(module, testAuthConfig),
    cache: options.cache ?? cacheInvalidator(undefined, logger),
    env: { ...TEST_SUBGRAPH_ENV, ...options.env },
  });
  return {
    prisma,
    server,
    execute: (query, variables, viewer = defaultViewer) => server.execute(query, variables, viewer),
    async close() {
      await server.stop();
      await prisma.$disconnect();
      await db.close();
    },
  };
}

export const ENTITIES = `query ($representations: [_Any!]!) { _entities(representations: $representations) { __typename ...Fields } }`;
