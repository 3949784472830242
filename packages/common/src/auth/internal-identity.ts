import { createSecretKey, type KeyObject } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestHandler } from "express";
import jwt from "jsonwebtoken";
import { rememberBounded } from "../bounded-map.ts";
import { ErrorCode } from "../errors.ts";
import { sendError } from "../http.ts";
import { isUuid } from "../ids.ts";
import type { Viewer } from "./viewer.ts";

/**
 * The header that carries the caller's identity from the gateway to subgraphs. It is a short-lived
 * HS256 token signed with INTERNAL_AUTH_SECRET, so a subgraph can tell a gateway request from
 * anyone else's: a request without a valid one is refused, even an anonymous `_entities` call.
 */
export const IDENTITY_HEADER = "x-catalog-identity";
/** Client headers with this prefix are removed at the gateway's door: only the gateway sets them. */
export const INTERNAL_HEADER_PREFIX = "x-catalog-";

const ISSUER = "catalog-gateway";
const AUDIENCE = "catalog-subgraphs";
/** Longer than any request may take (the gateway's deadline), short enough to make replay useless. */
const TTL_SECONDS = 120;
const CLOCK_TOLERANCE_SECONDS = 30;
/** The gateway's request deadline must end before the identity it signed at the start expires. */
export const MAX_REQUEST_DEADLINE_MS = (TTL_SECONDS - CLOCK_TOLERANCE_SECONDS) * 1000;

/**
 * Handed a string secret, jsonwebtoken first tries to parse it as a PEM key on every call, fails,
 * and only then makes a secret key of it: ~400 µs per signature or check. With a prepared
 * KeyObject it costs ~15 µs (`npm run bench`). This runs on every request and every subgraph call.
 */
const keys = new Map<string, KeyObject>();
export function secretKey(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret, "utf8"));
    keys.set(secret, key);
  }
  return key;
}

export function signIdentity(secret: string, viewer: Viewer | null): string {
  return jwt.sign(viewer ? { roles: viewer.roles, scope: viewer.scopes.join(" ") } : {}, secretKey(secret), {
    algorithm: "HS256",
    expiresIn: TTL_SECONDS,
    issuer: ISSUER,
    audience: AUDIENCE,
    ...(viewer ? { subject: viewer.userId } : {}),
  });
}

const SIGNED_LIMIT = 10_000;

/**
 * The gateway's signer: one token per viewer (anonymous included), reused while it has at least
 * `minRemainingMs` to live, so a request never outlives the identity it carries. The token names
 * no request (the request id travels in `x-request-id`), so identical subgraph calls made for one
 * viewer are byte-identical and can be shared (data-source.ts), and each subgraph checks a given
 * token once (`requireGatewayIdentity`). Bounded: past SIGNED_LIMIT viewers the oldest is dropped.
 */
export function identitySigner(secret: string, minRemainingMs: number): (viewer: Viewer | null) => string {
  const signed = new Map<string, { token: string; until: number }>();
  const reuseMs = TTL_SECONDS * 1000 - minRemainingMs - CLOCK_TOLERANCE_SECONDS * 1000;
  return (viewer) => {
    const key = viewer ? `${viewer.userId}\0${viewer.roles.join(",")}\0${viewer.scopes.join(" ")}` : "";
    const now = Date.now();
    const hit = signed.get(key);
    if (hit && hit.until > now) return hit.token;
    const token = signIdentity(secret, viewer);
    if (reuseMs > 0) rememberBounded(signed, key, { token, until: now + reuseMs }, SIGNED_LIMIT);
    return token;
  };
}

/**
 * A service acting on its own behalf (a recovery job, a saga step), not for a caller. It is the
 * same signed identity, with a fixed subject and the `SERVICE` role; only services holding the
 * internal secret can sign it, and no user role maps to the scopes it carries (viewer.ts).
 */
export const SERVICE_USER_ID = "00000000-0000-4000-8000-000000005e41";
export const SERVICE_ROLE = "SERVICE";

export function signServiceIdentity(secret: string, scopes: readonly string[]): string {
  return signIdentity(secret, { userId: SERVICE_USER_ID, roles: [SERVICE_ROLE], scopes });
}

/** The viewer the gateway vouched for (null: anonymous); throws when the token is not the gateway's. */
export function verifyIdentity(secrets: readonly string[], token: string): Viewer | null {
  let lastError: unknown;
  for (const secret of secrets) {
    try {
      const payload = jwt.verify(token, secretKey(secret), {
        algorithms: ["HS256"],
        issuer: ISSUER,
        audience: AUDIENCE,
        // Gateway and subgraph clocks may disagree a little; never by the token's lifetime.
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }) as jwt.JwtPayload & {
        roles?: unknown;
        scope?: unknown;
      };
      if (payload.sub === undefined) return null;
      if (!isUuid(payload.sub) || !Array.isArray(payload.roles) || typeof payload.scope !== "string") {
        throw new Error("identity token lacks claims");
      }
      return { userId: payload.sub, roles: payload.roles.map(String), scopes: payload.scope.split(" ").filter(Boolean) };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError ?? new Error("no internal secret configured");
}

/**
 * Subgraph side: checks the gateway's identity header and returns the viewer it vouches for
 * (null: anonymous); throws when the header is missing or not the gateway's.
 *
 * A token checked once is remembered until it expires (the gateway reuses one token per viewer,
 * so a subgraph sees few distinct ones): an HMAC check and claim parsing per call was a fixed
 * cost on every subgraph request. Only tokens that verified are remembered, bounded in number.
 */
export function gatewayIdentityVerifier(secrets: readonly string[]): (token: unknown) => Viewer | null {
  const verified = new Map<string, { viewer: Viewer | null; until: number }>();
  return (token) => {
    if (typeof token !== "string") throw new Error("missing identity header");
    const known = verified.get(token);
    if (known && known.until > Date.now()) return known.viewer;
    const viewer = verifyIdentity(secrets, token);
    const expires = (jwt.decode(token) as jwt.JwtPayload | null)?.exp;
    if (typeof expires === "number") rememberBounded(verified, token, { viewer, until: expires * 1000 }, VERIFIED_LIMIT);
    return viewer;
  };
}

const VERIFIED_LIMIT = 10_000;

/**
 * The viewer a request's identity header vouches for; undefined when it is not the gateway's,
 * and then the request has been answered with 401.
 */
export function admitGatewayRequest(
  verify: (token: unknown) => Viewer | null,
  req: IncomingMessage,
  res: ServerResponse,
): { viewer: Viewer | null; identityToken: string } | undefined {
  const identityToken = req.headers[IDENTITY_HEADER];
  try {
    return { viewer: verify(identityToken), identityToken: identityToken as string };
  } catch {
    sendError(res, 401, ErrorCode.UNAUTHENTICATED, "This service only accepts requests from the catalog gateway.");
    return undefined;
  }
}

/**
 * Only requests signed by the gateway (or a peer subgraph forwarding the gateway's token) pass.
 * Sets res.locals.viewer and res.locals.identityToken (Express routes of a subgraph).
 */
export function requireGatewayIdentity(secrets: readonly string[]): RequestHandler {
  const verify = gatewayIdentityVerifier(secrets);
  return (req, res, next) => {
    const admitted = admitGatewayRequest(verify, req, res);
    if (!admitted) return;
    res.locals.viewer = admitted.viewer;
    res.locals.identityToken = admitted.identityToken;
    next();
  };
}
