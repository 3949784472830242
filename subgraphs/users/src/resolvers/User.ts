import { isUuid } from "@catalog/common";
import type { User as UserRow } from "../prisma.ts";
import type { UserResolvers } from "../generated/graphql.ts";
import { publicNames } from "../public-names.ts";

export const User: UserResolvers = {
  // Representations come from other subgraphs (review authors, order owners). A malformed id is
  // simply an unknown entity: null, never a thrown error that would fail the whole batch.
  async __resolveReference(reference, ctx): Promise<UserRow | null> {
    return isUuid(reference.id) ? ctx.loaders.userById.load(reference.id.toLowerCase()) : null;
  },
  firstName: (user): string => publicNames(user).firstName,
  lastName: (user): string => publicNames(user).lastName,
  fullName(user): string {
    const { firstName, lastName } = publicNames(user);
    return `${firstName} ${lastName}`;
  },
};
