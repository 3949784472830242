import { randomBytes } from "node:crypto";
import { createTokenIssuer, loadAuthConfig, scopesForRoles, type Viewer } from "@catalog/common";

/** Secrets for this test process: random, never written anywhere. */
export const TEST_AUTH_ENV: Record<string, string> = {
  JWT_SECRET: randomBytes(32).toString("base64url"),
  INTERNAL_AUTH_SECRET: randomBytes(32).toString("base64url"),
};

export const testAuthConfig = loadAuthConfig(TEST_AUTH_ENV);
const issuer = createTokenIssuer(testAuthConfig);

/** An access token exactly as the users subgraph's login would sign it. */
export function accessTokenFor(user: { id: string; roles?: string[] }): string {
  return issuer.signAccessToken({ id: user.id, roles: user.roles ?? ["CUSTOMER"] }).token;
}

export const bearer = (user: { id: string; roles?: string[] }) => ({ authorization: `Bearer ${accessTokenFor(user)}` });

/** What a subgraph sees for a signed-in user (for in-process executeOperation tests). */
export function viewerFor(userId: string, roles: string[] = ["CUSTOMER"]): Viewer {
  return { userId, roles, scopes: scopesForRoles(roles) };
}

/** An admin that exists only in tokens: authorization never looks the admin up. */
export const ADMIN_USER = { id: "00000000-0000-4000-8000-00000000ad01", roles: ["ADMIN", "CUSTOMER"] };
export const ADMIN = viewerFor(ADMIN_USER.id, ADMIN_USER.roles);
