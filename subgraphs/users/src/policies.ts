import { hasScope, type Policy } from "@catalog/common";

/** The rules users' schema names in @policy. */
export const policies: Record<string, Policy> = {
  /**
   * A user's private fields: the user themself, or staff who may read any user. "Themself" also
   * covers the account that register/login/refreshToken has just signed in within this request,
   * whose payload is answered before any token of theirs exists.
   */
  self: (viewer, user, _args, context) => {
    const id = (user as { id?: unknown }).id;
    if ((context as { signedIn?: Set<string> }).signedIn?.has(String(id))) return true;
    return viewer !== null && (id === viewer.userId || hasScope(viewer, "users:read"));
  },
};
