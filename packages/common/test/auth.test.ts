import { generateKeyPairSync, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createTokenIssuer, createTokenVerifier, loadAuthConfig, TokenError } from "../src/index.ts";

const secret = () => randomBytes(32).toString("base64url");
const internal = { INTERNAL_AUTH_SECRET: secret() };
const user = { id: "6f1c2a4e-3b5d-4c7e-8f90-123456789abc", roles: ["CUSTOMER", "ADMIN"] };
const pem = () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
};

describe("key rotation", () => {
  it("HS256: tokens signed with the previous secret verify while JWT_PREVIOUS_SECRET names it, and not after", async () => {
    const [old, next] = [secret(), secret()];
    const oldToken = createTokenIssuer(loadAuthConfig({ ...internal, JWT_SECRET: old })).signAccessToken(user).token;
    const during = createTokenVerifier(loadAuthConfig({ ...internal, JWT_SECRET: next, JWT_PREVIOUS_SECRET: old }));
    await expect(during.verify(oldToken)).resolves.toMatchObject({ userId: user.id, scopes: ["catalog:write", "orders:read", "orders:write", "partners:write", "reviews:moderate", "users:read", "users:write"] });
    const after = createTokenVerifier(loadAuthConfig({ ...internal, JWT_SECRET: next }));
    await expect(after.verify(oldToken)).rejects.toMatchObject({ reason: "unknown_key" });
  });

  it("RS256: the previous public key stays in the JWKS and keeps verifying its tokens", async () => {
    const [old, next] = [pem(), pem()];
    const oldToken = createTokenIssuer(loadAuthConfig({ ...internal, JWT_ALGORITHM: "RS256", JWT_PRIVATE_KEY: old.privatePem })).signAccessToken(user).token;
    const rotated = loadAuthConfig({
      ...internal,
      JWT_ALGORITHM: "RS256",
      JWT_PRIVATE_KEY: next.privatePem.replace(/\n/g, "\\n"), // as it arrives from an env file
      JWT_PREVIOUS_PUBLIC_KEY: old.publicPem,
    });
    const issuer = createTokenIssuer(rotated);
    expect(issuer.jwks().keys).toHaveLength(2);
    const verifier = createTokenVerifier(rotated);
    await expect(verifier.verify(oldToken)).resolves.toMatchObject({ userId: user.id });
    await expect(verifier.verify(issuer.signAccessToken(user).token)).resolves.toMatchObject({ userId: user.id });
    const withoutOld = createTokenVerifier(loadAuthConfig({ ...internal, JWT_ALGORITHM: "RS256", JWT_PUBLIC_KEY: next.publicPem }));
    await expect(withoutOld.verify(oldToken)).rejects.toBeInstanceOf(TokenError);
  });

  it("refuses to start without the secrets it needs", () => {
    expect(() => loadAuthConfig({})).toThrow(/INTERNAL_AUTH_SECRET is required/);
    expect(() => loadAuthConfig({ INTERNAL_AUTH_SECRET: "short" })).toThrow(/at least 32 characters/);
    expect(() => createTokenIssuer(loadAuthConfig(internal))).toThrow(/JWT_SECRET is required/);
    expect(() => createTokenIssuer(loadAuthConfig({ ...internal, JWT_ALGORITHM: "RS256" }))).toThrow(/JWT_PRIVATE_KEY is required/);
    expect(() => createTokenVerifier(loadAuthConfig({ ...internal, JWT_ALGORITHM: "RS256" }))).toThrow(/JWT_JWKS_URL or JWT_PUBLIC_KEY/);
  });
});

describe("the demo seed", () => {
  it("is on by default outside production, off in production, and refused there when asked for", async () => {
    const { demoSeedAllowed } = await import("../src/index.ts");
    expect(demoSeedAllowed("development", undefined)).toBe(true);
    expect(demoSeedAllowed("development", "false")).toBe(false);
    expect(demoSeedAllowed("production", undefined)).toBe(false);
    expect(demoSeedAllowed("production", "false")).toBe(false);
    expect(() => demoSeedAllowed("production", "true")).toThrow(/public admin password/);
  });
});
