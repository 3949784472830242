import type { SubgraphModule } from "@catalog/common";
import { createPrisma, type UsersPrisma } from "./prisma.ts";
import { seedUsers } from "./seed.ts";
import { buildUsersServer } from "./server.ts";

export const usersSubgraph: SubgraphModule<UsersPrisma> = {
  name: "users",
  defaultPort: 4001,
  // Users own identities: this subgraph signs access tokens and resolves partners' API keys.
  issuesTokens: true,
  createPrisma,
  seed: (prisma) => seedUsers(prisma),
  build: buildUsersServer,
};
export { buildUsersServer } from "./server.ts";
export { createPrisma } from "./prisma.ts";
