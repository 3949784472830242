import { openPostgres, type PeerUrls, type PrismaLike, type SubgraphApp, type SubgraphModule } from "@catalog/common";
import { inject } from "vitest";
import { logger } from "./stack.ts";

export interface SubgraphHarness<P> {
  prisma: P;
  server: SubgraphApp;
  execute: SubgraphApp["execute"];
  close(): Promise<void>;
}

/** One subgraph in-process (no HTTP) on this run's real database, for executeOperation tests. */
export async function subgraphHarness<P extends PrismaLike>(
  module: SubgraphModule<P>,
  peers: PeerUrls = () => undefined,
): Promise<SubgraphHarness<P>> {
  const db = openPostgres(inject("databaseUrls")[module.name], { poolSize: 4 });
  const prisma = module.createPrisma(db.adapter);
  const server = await module.build({ prisma, db, logger, introspection: true, peers });
  return {
    prisma,
    server,
    execute: (query, variables) => server.execute(query, variables),
    async close() {
      await server.stop();
      await prisma.$disconnect();
      await db.close();
    },
  };
}

export const ENTITIES = `query ($representations: [_Any!]!) { _entities(representations: $representations) { __typename ...Fields } }`;
