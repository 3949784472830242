import { ErrorCode, PARTNER_ROLE, rememberBounded, sendError, signIdentity, type Logger, type Viewer } from "@catalog/common/edge";
import type { Redis } from "ioredis";
import type { GatewayMetrics } from "../metrics.ts";
import { createRateLimiter, sendRateLimited, type RateLimiter } from "../rate-limit.ts";
import { ANSWERED, type GatewayRequest, type HttpStage } from "../stage.ts";
import type { PersistedOperationRegistry } from "./registry.ts";

export const API_KEY_HEADER = "x-api-key";

/** Who is behind an API key, as the service that owns partners reports it (PARTNER_KEYS_URL). */
export interface Partner {
  /** The partner's own id, which its requests act as (role PARTNER, no scopes). */
  partnerId: string;
  keyId: string;
  slug: string;
  mode: "ENFORCE" | "AUDIT";
  quotaPerMinute: number;
  quotaPerDay: number;
}

/** Our keys: `cpk_` and 32 random bytes in base64url. Anything else is refused without a lookup. */
const KEY_FORMAT = /^cpk_[A-Za-z0-9_-]{43}$/;
const CACHE_LIMIT = 10_000;

/**
 * Resolves `x-api-key` through the partner directory's endpoint (PARTNER_KEYS_URL; only the gateway's signed
 * identity may call it), keeping answers for `cacheSeconds` so a partner's steady traffic costs no
 * lookup per request; a revoked key stops working within that time. Known and unknown keys are
 * cached apart (a flood of made-up keys cannot push real ones out), each bounded, oldest out
 * first; concurrent lookups of one key share one call.
 */
function partnerDirectory(options: { resolveUrl: string; internalSecret: string; cacheSeconds: number }) {
  const endpoint = options.resolveUrl;
  const known = new Map<string, { partner: Partner; until: number }>();
  const unknown = new Map<string, number>();
  const inflight = new Map<string, Promise<Partner | null>>();
  const remember = <V>(cache: Map<string, V>, key: string, value: V) => {
    if (options.cacheSeconds > 0) rememberBounded(cache, key, value, CACHE_LIMIT);
  };
  const lookup = async (key: string, requestId: string): Promise<Partner | null> => {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": requestId, "x-catalog-identity": signIdentity(options.internalSecret, null) },
      body: JSON.stringify({ key }),
      signal: AbortSignal.timeout(2_000),
    });
    // A 4xx says the key was not acceptable; only failures to answer are "unavailable".
    if (response.status >= 400 && response.status < 500) return null;
    if (!response.ok) throw new Error(`the partner directory answered ${response.status}`);
    return ((await response.json()) as { partner: Partner | null }).partner;
  };
  return {
    cached(key: string): Partner | null | undefined {
      const hit = known.get(key);
      if (hit && hit.until > Date.now()) return hit.partner;
      const miss = unknown.get(key);
      if (miss !== undefined && miss > Date.now()) return null;
      return undefined;
    },
    async resolve(key: string, requestId: string): Promise<Partner | null> {
      if (!KEY_FORMAT.test(key)) return null;
      const cached = this.cached(key);
      if (cached !== undefined) return cached;
      let pending = inflight.get(key);
      if (!pending) {
        pending = lookup(key, requestId).finally(() => inflight.delete(key));
        inflight.set(key, pending);
      }
      const partner = await pending;
      const until = Date.now() + options.cacheSeconds * 1000;
      if (partner) remember(known, key, { partner, until });
      else remember(unknown, key, until);
      return partner;
    },
  };
}

/**
 * Partner requests: the key must be active (else 401, answered after the IP's rate limit has
 * counted the request), and it may not be combined with a bearer token. Sets the state's partner.
 * A key that needs a lookup first costs its IP a rate-limit point, so made-up keys cannot make
 * the partner directory work faster than the anonymous rate limit allows. Requests without
 * `x-api-key` pass untouched.
 */
export function partnerAuthentication(options: {
  /** Unset: this gateway takes no API keys, and a request carrying one is refused as a bad key. */
  resolveUrl: string | undefined;
  internalSecret: string;
  cacheSeconds: number;
  metrics: GatewayMetrics;
  logger: Logger;
  ipLimiter: RateLimiter | undefined;
}): HttpStage["run"] {
  const directory = options.resolveUrl ? partnerDirectory({ ...options, resolveUrl: options.resolveUrl }) : undefined;
  return async (req, res, state) => {
    const key = req.headers[API_KEY_HEADER];
    if (key === undefined) return;
    if (req.headers.authorization !== undefined) {
      sendError(res, 400, "BAD_REQUEST", "Send an API key or a bearer token, not both.");
      return ANSWERED;
    }
    let partner: Partner | null;
    try {
      if (directory && typeof key === "string" && KEY_FORMAT.test(key) && directory.cached(key) === undefined && options.ipLimiter) {
        const decision = await options.ipLimiter.consume({ kind: "ip", id: state.clientIp });
        if (!decision.allowed) {
          options.metrics.rejected.inc({ code: "RATE_LIMITED" });
          sendRateLimited(res, decision, "Too many requests");
          return ANSWERED;
        }
      }
      partner = directory && typeof key === "string" ? await directory.resolve(key, state.requestId) : null;
    } catch (error) {
      options.logger.error({ err: error }, "could not resolve a partner API key");
      sendError(res, 503, ErrorCode.SERVICE_UNAVAILABLE, "API keys cannot be checked right now; try again later.");
      return ANSWERED;
    }
    if (!partner) {
      options.metrics.authFailures.inc({ reason: "api_key" });
      // Answered after the rate limiter has counted it against the IP, like a bad token.
      state.apiKeyRefused = true;
      return;
    }
    state.partner = partner;
    // A partner acts as itself: subgraphs see a signed-in caller whose id is the partner's, with
    // the PARTNER role and no scopes. So a partner may place and pay its own orders (persisted
    // operations only, within its quotas) and sees nothing of any user's.
    state.viewer = { userId: partner.partnerId, roles: [PARTNER_ROLE], scopes: [] } satisfies Viewer;
    return;
  };
}

/**
 * Each partner's quotas, per minute and per day, counted in Redis like every rate limit (one
 * limiter per quota value; counts are keyed by partner, so every gateway instance shares them).
 */
export function partnerQuotas(options: { redis: Redis | undefined; keyPrefix: string; metrics: GatewayMetrics; logger: Logger }): HttpStage["run"] {
  const limiters = new Map<string, RateLimiter>();
  const limiterFor = (window: "minute" | "day", points: number) => {
    const name = `${window}:${points}`;
    let limiter = limiters.get(name);
    if (!limiter) {
      limiter = createRateLimiter({
        redis: options.redis,
        keyPrefix: `${options.keyPrefix}quota-${window}:`,
        config: { points, anonymousPoints: points, windowSeconds: window === "minute" ? 60 : 86_400 },
        logger: options.logger,
        metrics: options.metrics,
      });
      limiters.set(name, limiter);
    }
    return limiter;
  };
  return async (_req, res, state) => {
    const partner = state.partner;
    if (!partner) return;
    for (const [window, points] of [["minute", partner.quotaPerMinute], ["day", partner.quotaPerDay]] as const) {
      const decision = await limiterFor(window, points).consume({ kind: "partner", id: partner.slug });
      if (!decision.allowed) {
        options.metrics.rejected.inc({ code: "RATE_LIMITED" });
        options.metrics.partnerOperations.inc({ partner: partner.slug, operation: "", outcome: `quota_${window}` });
        sendRateLimited(res, decision, `The ${window} quota for ${partner.slug} is used up`);
        return ANSWERED;
      }
    }
    return;
  };
}

interface GraphQLParams {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: { persistedQuery?: { sha256Hash?: unknown } } & Record<string, unknown>;
}

function paramsOf(req: GatewayRequest): GraphQLParams | undefined {
  if (req.method === "GET") {
    const search = new URL(req.url ?? "/", "http://gateway").searchParams;
    const json = (name: string) => {
      const value = search.get(name);
      if (value === null) return undefined;
      try {
        return JSON.parse(value) as unknown;
      } catch {
        return value;
      }
    };
    return {
      query: search.get("query") ?? undefined,
      operationName: search.get("operationName") ?? undefined,
      variables: json("variables"),
      extensions: json("extensions") as GraphQLParams["extensions"],
    };
  }
  return typeof req.body === "object" && req.body !== null && !Array.isArray(req.body) ? (req.body as GraphQLParams) : undefined;
}

/**
 * Partners run persisted operations only: `extensions.persistedQuery.sha256Hash` must be the id of
 * an operation in the partner's manifest, which then runs as listed (its body, its name). A
 * freeform query is refused with 400 PERSISTED_QUERY_ID_REQUIRED; an id not in the partner's list
 * (another partner's included) with 404 PERSISTED_QUERY_NOT_IN_LIST. A partner in AUDIT mode (for
 * rollout) may also run anything else; each such request is logged and counted.
 */
export function persistedOnly(options: { registry: PersistedOperationRegistry; metrics: GatewayMetrics; logger: Logger }): HttpStage["run"] {
  const count = (partner: string, operation: string, outcome: string) =>
    options.metrics.partnerOperations.inc({ partner, operation, outcome });
  return (req, res, state) => {
    const partner = state.partner;
    if (!partner) return;
    const params = paramsOf(req);
    if (!params) {
      sendError(res, 400, "BAD_REQUEST", "Partner requests carry one operation, by its persisted id.");
      return ANSWERED;
    }
    const hash = params.extensions?.persistedQuery?.sha256Hash;
    const listed = typeof hash === "string" ? options.registry.operations(partner.slug)?.get(hash) : undefined;
    if (listed) {
      count(partner.slug, listed.name, "listed");
      const { persistedQuery: _listedId, ...extensions } = params.extensions ?? {};
      const rewritten = { query: listed.body, operationName: listed.name, variables: params.variables, extensions };
      if (req.method === "GET") {
        // Apollo reads GET parameters from the URL, so the listed operation goes there.
        const search = new URLSearchParams({ query: listed.body, operationName: listed.name });
        if (params.variables !== undefined) search.set("variables", JSON.stringify(params.variables));
        req.url = `${new URL(req.url ?? "/", "http://gateway").pathname}?${search}`;
      } else {
        req.body = rewritten;
      }
      return;
    }
    if (partner.mode === "AUDIT") {
      // Names the client chose go to the log (trimmed), never into metric labels: one series per
      // made-up name would be unbounded.
      const named = typeof params.query === "string" ? /\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/.exec(params.query)?.[1] : undefined;
      const name = typeof params.operationName === "string" ? params.operationName : (named ?? "(anonymous)");
      count(partner.slug, "(unlisted)", typeof hash === "string" ? "unlisted_id_audit" : "freeform_audit");
      // Unreviewed operations run, but as an anonymous caller: a partner acts as itself (its
      // orders, its carts) only through operations someone has listed for it.
      state.viewer = null;
      options.logger.warn(
        { partner: partner.slug, operationName: name.slice(0, 100), id: typeof hash === "string" ? hash.slice(0, 64) : undefined },
        "partner ran an operation not in its list (audit mode)",
      );
      return;
    }
    if (typeof hash === "string") {
      count(partner.slug, "", "unlisted_id_refused");
      sendError(res, 404, "PERSISTED_QUERY_NOT_IN_LIST", "This operation is not in your list of persisted operations.");
      return ANSWERED;
    }
    count(partner.slug, "", "freeform_refused");
    sendError(
      res,
      400,
      "PERSISTED_QUERY_ID_REQUIRED",
      "Partners run persisted operations only: send extensions.persistedQuery.sha256Hash of an operation in your list.",
    );
    return ANSWERED;
  };
}
