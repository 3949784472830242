import type { User } from "./prisma.ts";

/**
 * Names are public (they sign reviews). A deleted account's reviews and orders still resolve
 * their author, under these names instead of the person's.
 */
export const DELETED_USER_NAMES = { firstName: "Deleted", lastName: "user" } as const;

export function publicNames(user: Pick<User, "firstName" | "lastName" | "status">): { firstName: string; lastName: string } {
  return user.status === "DELETED" ? DELETED_USER_NAMES : { firstName: user.firstName, lastName: user.lastName };
}
