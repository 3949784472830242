import { createHash, createHmac, createPrivateKey, createPublicKey, randomUUID, type JsonWebKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import { secretKey } from "./internal-identity.ts";
import { createJwksCache } from "./jwks-cache.ts";
import { isUuid } from "../ids.ts";
import type { AuthConfig } from "./auth-config.ts";
import { scopesForRoles, type Viewer } from "./viewer.ts";

/** Why a token was refused; logged and counted, never shown beyond "invalid or expired". */
export type TokenFailure =
  | "malformed"
  | "algorithm"
  | "signature"
  | "expired"
  | "not_yet_valid"
  | "issuer"
  | "audience"
  | "claims"
  | "unknown_key";

export class TokenError extends Error {
  constructor(
    readonly reason: TokenFailure,
    message: string,
  ) {
    super(message);
    this.name = "TokenError";
  }
}

export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
  jti: string;
}

export interface TokenIssuer {
  signAccessToken(user: { id: string; roles: readonly string[] }): IssuedAccessToken;
  /** The public keys that verify our tokens (RS256); empty for HS256, whose secret is never published. */
  jwks(): { keys: JsonWebKey[] };
  refreshTokenTtlSeconds: number;
}

export interface TokenVerifier {
  verify(token: string): Promise<Viewer>;
  /** What the gateway republishes at /.well-known/jwks.json. */
  jwks(): Promise<{ keys: JsonWebKey[] }>;
  /** Loads remote keys (JWKS) ahead of the first request; a no-op otherwise. */
  warm(): Promise<void>;
}

/** RFC 7638 thumbprint: a stable key id derived from the key itself, so no one has to name keys. */
export function keyIdOf(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" });
  const canonical = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  return createHash("sha256").update(canonical).digest("base64url");
}

/**
 * HS256 tokens name their secret, so a rotation can accept the previous one. The name is an HMAC
 * keyed by the secret itself: stable, and it says nothing about the secret (a plain hash would let
 * anyone see that two environments share one).
 */
function secretKeyId(secret: string): string {
  return `hs-${createHmac("sha256", secret).update("catalog access-token key id").digest("base64url").slice(0, 16)}`;
}

function publicJwk(key: KeyObject): JsonWebKey {
  return { ...key.export({ format: "jwk" }), kid: keyIdOf(key), alg: "RS256", use: "sig" };
}

export function createTokenIssuer(config: AuthConfig): TokenIssuer {
  let signingKey: string | KeyObject;
  let keyid: string;
  let published: JsonWebKey[] = [];
  if (config.algorithm === "RS256") {
    if (!config.privateKey) throw new Error("Invalid configuration:\n  JWT_PRIVATE_KEY is required with JWT_ALGORITHM=RS256");
    signingKey = createPrivateKey(config.privateKey);
    const publicKey = createPublicKey(signingKey);
    keyid = keyIdOf(publicKey);
    published = [publicKey, ...config.previousPublicKeys.map((p) => createPublicKey(p))].map(publicJwk);
  } else {
    const secret = config.secrets[0];
    if (!secret) throw new Error("Invalid configuration:\n  JWT_SECRET is required with JWT_ALGORITHM=HS256");
    signingKey = secretKey(secret);
    keyid = secretKeyId(secret);
  }
  return {
    refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
    jwks: () => ({ keys: published }),
    signAccessToken(user) {
      const jti = randomUUID();
      const token = jwt.sign({ roles: [...user.roles], scope: scopesForRoles(user.roles).join(" ") }, signingKey, {
        algorithm: config.algorithm,
        expiresIn: config.accessTokenTtlSeconds,
        issuer: config.issuer,
        audience: config.audience,
        subject: user.id,
        jwtid: jti,
        keyid,
      });
      return { token, expiresIn: config.accessTokenTtlSeconds, jti };
    },
  };
}

type KeyLookup = (kid: string | undefined) => Promise<string | KeyObject>;

interface KeySource {
  lookup: KeyLookup;
  jwks(): Promise<{ keys: JsonWebKey[] }>;
  warm?(): Promise<void>;
}

function keyLookup(config: AuthConfig, onJwksError?: (error: unknown) => void): KeySource {
  if (config.algorithm === "HS256") {
    const byKid = new Map(config.secrets.map((s) => [secretKeyId(s), s]));
    return {
      lookup: async (kid) => {
        const secret = kid === undefined ? config.secrets[0] : byKid.get(kid);
        if (!secret) throw new TokenError("unknown_key", "unknown key id");
        return secretKey(secret);
      },
      jwks: async () => ({ keys: [] }),
    };
  }
  if (config.jwksUrl) {
    const cache = createJwksCache(config.jwksUrl, (error) => onJwksError?.(error));
    return {
      lookup: async (kid) => {
        // Our kids are RFC 7638 thumbprints; anything else cannot match and costs no lookup.
        if (!kid || !/^[A-Za-z0-9_-]{43}$/.test(kid)) throw new TokenError("unknown_key", "token has no valid key id");
        const key = await cache.get(kid);
        if (!key) throw new TokenError("unknown_key", "no published key matches the token's key id");
        return key;
      },
      jwks: async () => ({ keys: cache.keys() }),
      warm: cache.warm,
    };
  }
  const pems = [config.publicKey ?? (config.privateKey ? createPublicKey(config.privateKey).export({ type: "spki", format: "pem" }).toString() : undefined), ...config.previousPublicKeys].filter(
    (p): p is string => Boolean(p),
  );
  if (!pems.length) {
    throw new Error("Invalid configuration:\n  JWT_ALGORITHM=RS256 needs JWT_JWKS_URL or JWT_PUBLIC_KEY on the gateway");
  }
  const keys = pems.map((p) => createPublicKey(p));
  const byKid = new Map(keys.map((k) => [keyIdOf(k), k]));
  return {
    lookup: async (kid) => {
      const key = kid === undefined && keys.length === 1 ? keys[0] : kid ? byKid.get(kid) : undefined;
      if (!key) throw new TokenError("unknown_key", "no trusted key matches the token's key id");
      return key;
    },
    jwks: async () => ({ keys: keys.map(publicJwk) }),
  };
}

function failureOf(error: unknown): TokenError {
  if (error instanceof TokenError) return error;
  if (error instanceof jwt.TokenExpiredError) return new TokenError("expired", "token expired");
  if (error instanceof jwt.NotBeforeError) return new TokenError("not_yet_valid", "token not yet valid");
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes("audience")) return new TokenError("audience", message);
  if (message.includes("issuer")) return new TokenError("issuer", message);
  if (message.includes("algorithm") || message.includes("signature is required")) return new TokenError("algorithm", message);
  if (message.includes("signature")) return new TokenError("signature", message);
  return new TokenError("malformed", message);
}

/**
 * The gateway's check of `Authorization: Bearer` tokens. One algorithm is allowed (the configured
 * one), so `alg: none` and an HS256 token "signed" with our RSA public key are both refused; iss,
 * aud, exp and nbf are checked with a bounded clock leeway, and a token without exp is refused.
 */
export function createTokenVerifier(config: AuthConfig, onJwksError?: (error: unknown) => void): TokenVerifier {
  const keys = keyLookup(config, onJwksError);
  return {
    jwks: keys.jwks,
    warm: async () => keys.warm?.(),
    verify: (token) =>
      new Promise<Viewer>((resolve, reject) => {
        // jsonwebtoken rewraps key-lookup errors as plain messages; keep ours to report the reason.
        let keyFailure: TokenError | undefined;
        const getKey: jwt.GetPublicKeyOrSecret = (header, callback) => {
          keys.lookup(header.kid).then(
            (key) => callback(null, key as jwt.Secret),
            (error: Error) => {
              keyFailure = failureOf(error);
              callback(error);
            },
          );
        };
        jwt.verify(
          token,
          getKey,
          {
            algorithms: [config.algorithm],
            issuer: config.issuer,
            audience: config.audience,
            clockTolerance: config.clockToleranceSeconds,
          },
          (error, payload) => {
            if (error) return reject(keyFailure ?? failureOf(error));
            if (typeof payload !== "object" || payload === null) return reject(new TokenError("claims", "payload is not an object"));
            const { sub, exp, iat, jti, roles, scope } = payload as jwt.JwtPayload & { roles?: unknown; scope?: unknown };
            if (
              !isUuid(sub) ||
              typeof exp !== "number" ||
              typeof iat !== "number" ||
              typeof jti !== "string" ||
              !Array.isArray(roles) ||
              !roles.every((r) => typeof r === "string") ||
              typeof scope !== "string"
            ) {
              return reject(new TokenError("claims", "token lacks required claims"));
            }
            resolve({ userId: sub.toLowerCase(), roles, scopes: scope.split(" ").filter(Boolean) });
          },
        );
      }),
  };
}
