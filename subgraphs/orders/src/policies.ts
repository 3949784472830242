import { hasScope, type Policy, type Viewer } from "@catalog/common";

/** Staff with `orders:read` see every order; everyone else only their own. */
export function mayReadOrdersOf(viewer: Viewer | null, userId: string): boolean {
  return viewer !== null && (viewer.userId === userId || hasScope(viewer, "orders:read"));
}

/** The rules orders' schema names in @policy. */
export const policies: Record<string, Policy> = {
  /** On User: the user's own orders. */
  self: (viewer, user) => mayReadOrdersOf(viewer, String((user as { id?: unknown }).id)),
  /** On Order: a second line of defence behind the ownership filter in Query.order and _entities. */
  order_owner: (viewer, order) => mayReadOrdersOf(viewer, String((order as { userId?: unknown }).userId)),
};
