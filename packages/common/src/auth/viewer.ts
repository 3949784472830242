import { coded, ErrorCode } from "../errors.ts";

/**
 * Who is calling, as the gateway established it from a verified access token. `null` everywhere
 * means anonymous. Subgraphs never build one from client input: they receive it from the gateway
 * in a signed header (internal-identity.ts).
 */
export interface Viewer {
  /** The user's id (the token's `sub`). */
  userId: string;
  roles: readonly string[];
  /** OAuth-style scopes; what @requiresScopes checks. */
  scopes: readonly string[];
}

/** What each role may do beyond reading the public catalog and its own data. */
export const ROLE_SCOPES: Readonly<Record<string, readonly string[]>> = {
  CUSTOMER: [],
  ADMIN: ["catalog:write", "users:read", "users:write", "orders:read", "orders:write", "partners:write", "reviews:moderate"],
};

/**
 * Scopes only services sign for themselves (signServiceIdentity): holding stock for an order,
 * selling or releasing it. No role above grants them, so no access token can carry them.
 */
/** The role of a request made with a partner's API key: the partner acts as itself (its own id). */
export const PARTNER_ROLE = "PARTNER";

export const SERVICE_SCOPES = {
  STOCK_RESERVE: "stock:reserve",
  /** Reading inventory's stock change feed (the products subgraph's availability replica). */
  STOCK_FEED: "stock:feed",
  /** Asking orders which products a user has bought (the products subgraph's verified purchases). */
  PURCHASES_READ: "purchases:read",
} as const;

/**
 * The caller of a field marked @authenticated: the subgraph's authorization (authorization.ts)
 * refuses anonymous callers before any resolver runs, so this narrows the type; a field that
 * lacks the directive is refused here instead, with the same code.
 */
export function requireViewer(viewer: Viewer | null): Viewer {
  if (!viewer) throw coded(ErrorCode.UNAUTHENTICATED, "Sign in first.");
  return viewer;
}

export function scopesForRoles(roles: readonly string[]): string[] {
  return [...new Set(roles.flatMap((role) => ROLE_SCOPES[role] ?? []))].sort();
}

export function hasScope(viewer: Viewer | null, scope: string): boolean {
  return viewer !== null && viewer.scopes.includes(scope);
}
