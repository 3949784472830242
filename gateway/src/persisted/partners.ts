import { ErrorCode, signIdentity, type Logger } from "@catalog/common";
import type { Redis } from "ioredis";
import type { Request, RequestHandler, Response } from "express";
import type { GatewayMetrics } from "../metrics.ts";
import { createRateLimiter, sendRateLimited, type RateLimiter } from "../rate-limit.ts";
import type { PersistedOperationRegistry } from "./registry.ts";

export const API_KEY_HEADER = "x-api-key";

/** Who is behind an API key, as the users subgraph (which owns partners) reports it. */
export interface Partner {
  keyId: string;
  slug: string;
  mode: "ENFORCE" | "AUDIT";
  quotaPerMinute: number;
  quotaPerDay: number;
}

const refuse = (res: Response, status: number, code: string, message: string) => {
  res.status(status).json({ errors: [{ message, extensions: { code, requestId: res.locals.requestId as string } }] });
};

/**
 * Resolves `x-api-key` through the users subgraph's internal endpoint (only the gateway's signed
 * identity may call it), keeping answers for `cacheSeconds` so a partner's steady traffic costs no
 * lookup per request; a revoked key stops working within that time.
 */
function partnerDirectory(options: { usersUrl: string; internalSecret: string; cacheSeconds: number }) {
  const endpoint = new URL("/internal/partners/resolve", options.usersUrl).toString();
  const cache = new Map<string, { partner: Partner | null; until: number }>();
  return async (key: string, requestId: string): Promise<Partner | null> => {
    const cached = cache.get(key);
    if (cached && cached.until > Date.now()) return cached.partner;
    const response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", "x-catalog-identity": signIdentity(options.internalSecret, null, requestId) },
      body: JSON.stringify({ key }),
      signal: AbortSignal.timeout(2_000),
    });
    if (!response.ok) throw new Error(`users answered ${response.status}`);
    const { partner } = (await response.json()) as { partner: Partner | null };
    if (options.cacheSeconds > 0) {
      if (cache.size > 10_000) cache.clear();
      cache.set(key, { partner, until: Date.now() + options.cacheSeconds * 1000 });
    }
    return partner;
  };
}

/**
 * Partner requests: the key must be active (else 401), and it may not be combined with a bearer
 * token. Sets res.locals.partner. Requests without `x-api-key` pass untouched.
 */
export function partnerAuthentication(options: {
  usersUrl: string;
  internalSecret: string;
  cacheSeconds: number;
  metrics: GatewayMetrics;
  logger: Logger;
}): RequestHandler {
  const resolve = partnerDirectory(options);
  return async (req, res, next) => {
    const key = req.headers[API_KEY_HEADER];
    if (key === undefined) return next();
    if (req.headers.authorization !== undefined) {
      return refuse(res, 400, "BAD_REQUEST", "Send an API key or a bearer token, not both.");
    }
    let partner: Partner | null;
    try {
      partner = typeof key === "string" ? await resolve(key, res.locals.requestId as string) : null;
    } catch (error) {
      options.logger.error({ err: error }, "could not resolve a partner API key");
      return refuse(res, 503, ErrorCode.SERVICE_UNAVAILABLE, "API keys cannot be checked right now; try again later.");
    }
    if (!partner) {
      options.metrics.authFailures.inc({ reason: "api_key" });
      // Answered after the rate limiter has counted it against the IP, like a bad token.
      res.locals.apiKeyRefused = true;
      return next();
    }
    res.locals.partner = partner;
    next();
  };
}

/**
 * Each partner's quotas, per minute and per day, counted in Redis like every rate limit (one
 * limiter per quota value; counts are keyed by partner, so every gateway instance shares them).
 */
export function partnerQuotas(options: { redis: Redis | undefined; keyPrefix: string; metrics: GatewayMetrics; logger: Logger }): RequestHandler {
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
  return async (_req, res, next) => {
    const partner = res.locals.partner as Partner | undefined;
    if (!partner) return next();
    for (const [window, points] of [["minute", partner.quotaPerMinute], ["day", partner.quotaPerDay]] as const) {
      const decision = await limiterFor(window, points).consume({ kind: "partner", id: partner.slug });
      if (!decision.allowed) {
        options.metrics.rejected.inc({ code: "RATE_LIMITED" });
        options.metrics.partnerOperations.inc({ partner: partner.slug, operation: "", outcome: `quota_${window}` });
        return sendRateLimited(res, decision, `The ${window} quota for ${partner.slug} is used up`);
      }
    }
    next();
  };
}

interface GraphQLParams {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: { persistedQuery?: { sha256Hash?: unknown } } & Record<string, unknown>;
}

function paramsOf(req: Request): GraphQLParams | undefined {
  if (req.method === "GET") {
    const search = new URL(req.originalUrl, "http://gateway").searchParams;
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
export function persistedOnly(options: { registry: PersistedOperationRegistry; metrics: GatewayMetrics; logger: Logger }): RequestHandler {
  const count = (partner: string, operation: string, outcome: string) =>
    options.metrics.partnerOperations.inc({ partner, operation, outcome });
  return (req, res, next) => {
    const partner = res.locals.partner as Partner | undefined;
    if (!partner) return next();
    const params = paramsOf(req);
    if (!params) return refuse(res, 400, "BAD_REQUEST", "Partner requests carry one operation, by its persisted id.");
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
        req.url = `${req.path}?${search}`;
      } else {
        req.body = rewritten;
      }
      return next();
    }
    if (partner.mode === "AUDIT") {
      // The name the client sent, else the first operation's name in the text (for the counters).
      const named = typeof params.query === "string" ? /\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/.exec(params.query)?.[1] : undefined;
      const name = typeof params.operationName === "string" ? params.operationName : (named ?? "(anonymous)");
      count(partner.slug, name, typeof hash === "string" ? "unlisted_id_audit" : "freeform_audit");
      options.logger.warn({ partner: partner.slug, operationName: name, id: hash }, "partner ran an operation not in its list (audit mode)");
      return next();
    }
    if (typeof hash === "string") {
      count(partner.slug, "", "unlisted_id_refused");
      return refuse(res, 404, "PERSISTED_QUERY_NOT_IN_LIST", "This operation is not in your list of persisted operations.");
    }
    count(partner.slug, "", "freeform_refused");
    return refuse(
      res,
      400,
      "PERSISTED_QUERY_ID_REQUIRED",
      "Partners run persisted operations only: send extensions.persistedQuery.sha256Hash of an operation in your list.",
    );
  };
}
