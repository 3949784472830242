import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";

/** Refresh in the background once keys are this old; a removed key stops verifying after it. */
const MAX_AGE_MS = 5 * 60_000;
/** An unknown kid may trigger a refetch at most this often, however many tokens name one. */
const UNKNOWN_KID_REFETCH_MS = 30_000;
const FETCH_TIMEOUT_MS = 2_000;

export interface JwksCache {
  /** The key for `kid`, or undefined; refetches (throttled) when the kid is unknown. */
  get(kid: string): Promise<KeyObject | undefined>;
  /** The keys as currently known, for republishing. */
  keys(): JsonWebKey[];
  /** First fetch; the gateway awaits it at start so the first requests do not wait. */
  warm(): Promise<void>;
}

/**
 * The verifying keys, fetched from the users subgraph's JWKS and kept in memory. Lookups are
 * local; the network is touched on a timer, and for an unknown kid at most once per 30 s, so a
 * flood of tokens with made-up kids cannot exhaust anything or lock real tokens out. When a
 * refresh fails, the keys already known keep working (stale beats locked out).
 */
export function createJwksCache(url: string, onError: (error: unknown) => void): JwksCache {
  let byKid = new Map<string, { key: KeyObject; jwk: JsonWebKey }>();
  let fetchedAt = 0;
  let attemptedAt = 0;
  let inflight: Promise<void> | undefined;

  const refresh = () =>
    (inflight ??= (async () => {
      attemptedAt = Date.now();
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
        if (!response.ok) throw new Error(`JWKS answered ${response.status}`);
        const body = (await response.json()) as { keys?: unknown };
        if (!Array.isArray(body.keys)) throw new Error("JWKS has no keys array");
        const next = new Map<string, { key: KeyObject; jwk: JsonWebKey }>();
        for (const jwk of body.keys as (JsonWebKey & { kid?: unknown; use?: unknown; alg?: unknown })[]) {
          if (typeof jwk.kid !== "string" || jwk.kty !== "RSA") continue;
          if ((jwk.use !== undefined && jwk.use !== "sig") || (jwk.alg !== undefined && jwk.alg !== "RS256")) continue;
          const { kty, n, e, kid, alg, use } = jwk;
          next.set(jwk.kid, { key: createPublicKey({ key: { kty, n, e }, format: "jwk" }), jwk: { kty, n, e, kid, alg, use } as JsonWebKey });
        }
        byKid = next;
        fetchedAt = Date.now();
      } catch (error) {
        onError(error);
      } finally {
        inflight = undefined;
      }
    })());

  return {
    async get(kid) {
      if (Date.now() - fetchedAt > MAX_AGE_MS && Date.now() - attemptedAt > UNKNOWN_KID_REFETCH_MS) {
        // Known keys answer now; the refresh lands for later requests.
        if (byKid.size) void refresh();
        else await refresh();
      }
      const known = byKid.get(kid);
      if (known) return known.key;
      if (Date.now() - attemptedAt > UNKNOWN_KID_REFETCH_MS) await refresh();
      return byKid.get(kid)?.key;
    },
    keys: () => [...byKid.values()].map((entry) => entry.jwk),
    warm: refresh,
  };
}
