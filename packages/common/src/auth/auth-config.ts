import { z } from "zod";
import { parseEnv } from "../config.ts";

/**
 * Token settings shared by the users subgraph (which signs access tokens) and the gateway (which
 * verifies them), read from the same variables so the two cannot disagree on issuer or audience.
 */
export interface AuthConfig {
  algorithm: "HS256" | "RS256";
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Leeway for exp/nbf between machines' clocks; at most 60 s. */
  clockToleranceSeconds: number;
  /** HS256: the signing secret first, then a previous one still accepted during a rotation. */
  secrets: string[];
  /** RS256, users subgraph: the PEM private key that signs. */
  privateKey: string | undefined;
  /** RS256: PEM public keys still trusted (and published) besides the signing key's, for rotation. */
  previousPublicKeys: string[];
  /** RS256, gateway: where to fetch the signing keys (the users subgraph's /.well-known/jwks.json). */
  jwksUrl: string | undefined;
  /** RS256, gateway, instead of a JWKS URL: the PEM public key. */
  publicKey: string | undefined;
  /** Signs the identity the gateway hands to subgraphs; first signs, the rest still verify. */
  internalSecrets: string[];
}

const secret = (name: string) =>
  z.string().min(32, `${name} must be at least 32 characters (e.g. \`openssl rand -base64 48\`)`).optional();
/** PEM keys in env files usually arrive with literal "\n" sequences instead of line breaks. */
const pem = z
  .string()
  .optional()
  .transform((value) => value?.replace(/\\n/g, "\n").trim() || undefined);

const schema = z.object({
  JWT_ALGORITHM: z.enum(["HS256", "RS256"]).default("HS256"),
  JWT_ISSUER: z.string().min(1).default("catalog"),
  JWT_AUDIENCE: z.string().min(1).default("catalog-api"),
  JWT_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(300).max(90 * 86_400).default(30 * 86_400),
  JWT_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(60).default(30),
  JWT_SECRET: secret("JWT_SECRET"),
  JWT_PREVIOUS_SECRET: secret("JWT_PREVIOUS_SECRET"),
  JWT_PRIVATE_KEY: pem,
  JWT_PREVIOUS_PUBLIC_KEY: pem,
  JWT_JWKS_URL: z.url().optional(),
  JWT_PUBLIC_KEY: pem,
  INTERNAL_AUTH_SECRET: secret("INTERNAL_AUTH_SECRET"),
  INTERNAL_AUTH_PREVIOUS_SECRET: secret("INTERNAL_AUTH_PREVIOUS_SECRET"),
});

export function loadAuthConfig(env: Record<string, string | undefined> = process.env): AuthConfig {
  const parsed = parseEnv(schema, env);
  // Signing keys are checked where they are used (createTokenIssuer, createTokenVerifier): only the
  // users subgraph signs and only the gateway verifies, but every service needs the internal secret.
  if (!parsed.INTERNAL_AUTH_SECRET) {
    throw new Error("Invalid configuration:\n  INTERNAL_AUTH_SECRET is required (it signs the identity the gateway passes to subgraphs)");
  }
  return {
    algorithm: parsed.JWT_ALGORITHM,
    issuer: parsed.JWT_ISSUER,
    audience: parsed.JWT_AUDIENCE,
    accessTokenTtlSeconds: parsed.JWT_ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: parsed.REFRESH_TOKEN_TTL_SECONDS,
    clockToleranceSeconds: parsed.JWT_CLOCK_TOLERANCE_SECONDS,
    secrets: [parsed.JWT_SECRET, parsed.JWT_PREVIOUS_SECRET].filter((s): s is string => Boolean(s)),
    privateKey: parsed.JWT_PRIVATE_KEY,
    previousPublicKeys: parsed.JWT_PREVIOUS_PUBLIC_KEY ? [parsed.JWT_PREVIOUS_PUBLIC_KEY] : [],
    jwksUrl: parsed.JWT_JWKS_URL,
    publicKey: parsed.JWT_PUBLIC_KEY,
    internalSecrets: [parsed.INTERNAL_AUTH_SECRET, parsed.INTERNAL_AUTH_PREVIOUS_SECRET].filter((s): s is string =>
      Boolean(s),
    ),
  };
}
