import { inKeyOrder } from "@catalog/common";
import DataLoader from "dataloader";
import type { User, UsersPrisma } from "./prisma.ts";

export interface Loaders {
  userById: DataLoader<string, User | null>;
}

/** Per request: one `WHERE id IN (...)` for every user the request touches, results in key order. */
export function createLoaders(prisma: UsersPrisma): Loaders {
  return {
    userById: new DataLoader(async (ids) =>
      inKeyOrder(ids, await prisma.user.findMany({ where: { id: { in: [...ids] } } }), (row) => row.id),
    ),
  };
}
