import { isUuid } from "@catalog/common";
import type { Context } from "../context.ts";
import type { User as UserRow } from "../prisma.ts";
import { publicNames } from "../public-names.ts";

export const User = {
  // Representations come from other subgraphs (review authors, order owners). A malformed id is
  // simply an unknown entity: null, never a thrown error that would fail the whole batch.
  async __resolveReference(reference: { id: unknown }, ctx: Context): Promise<UserRow | null> {
    return isUuid(reference.id) ? ctx.loaders.userById.load(reference.id.toLowerCase()) : null;
  },
  firstName: (user: UserRow): string => publicNames(user).firstName,
  lastName: (user: UserRow): string => publicNames(user).lastName,
  fullName(user: UserRow): string {
    const { firstName, lastName } = publicNames(user);
    return `${firstName} ${lastName}`;
  },
};
