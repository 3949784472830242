import { breakerFor, sendError, type Logger } from "@catalog/common/edge";
import { ANSWERED, type GatewayRequest, type GatewayResponse, type HttpStage, type RequestState } from "./stage.ts";
import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { GatewayMetrics } from "./metrics.ts";

export interface RateLimitConfig {
  /** Requests per window for an authenticated caller (per user id) or a partner key. Default 600. */
  points: number;
  /** Requests per window for an anonymous caller (per client IP). Default 300. */
  anonymousPoints: number;
  /** Window length in seconds. Default 60. */
  windowSeconds: number;
}

export const DEFAULT_RATE_LIMIT_CONFIG: Readonly<RateLimitConfig> = { points: 600, anonymousPoints: 300, windowSeconds: 60 };

export interface Caller {
  kind: "user" | "partner" | "ip";
  id: string;
}

export interface RateLimiter {
  /** A pipeline stage; `callerOf(state)` says who is calling (the authentication stage set the viewer). */
  stage(callerOf: (state: RequestState, req: GatewayRequest) => Caller): HttpStage["run"];
  /** For tests and /metrics: consume one point for a caller and return the decision. */
  consume(caller: Caller): Promise<RateLimitDecision>;
}

export type RateLimitDecision =
  | { allowed: true; limit: number; remaining: number; resetSeconds: number }
  | { allowed: false; limit: number; retryAfterSeconds: number }
  | { allowed: true; failOpen: true };

/**
 * Upper bound on one decision, on top of the client's own `commandTimeout` (250 ms for the
 * gateway's client, which normally fires first). It only matters for a client built without a
 * command timeout: a slow Redis must cost requests at most this much, never hold them.
 */
const DECISION_DEADLINE_MS = 500;
/** While Redis is down every request fails open; one log line per this period is enough. */
const FAIL_OPEN_LOG_INTERVAL_MS = 10_000;

/**
 * Per-caller fixed-window rate limiting (rate-limiter-flexible).
 *
 * Counts live in Redis when a client is given, so every gateway instance draws on the same
 * budget; without one (embedded dev mode) they live in this process.
 *
 * Keys are `${keyPrefix}ratelimit:<kind>:<id>`. The kind is a fixed, colon-free first segment, so
 * `user:1.2.3.4` and `ip:1.2.3.4` never meet whatever the ids contain, and ids need no escaping.
 * ioredis prepends its own `keyPrefix` option to every key it sends (the Lua script's key
 * included). When the client carries one and `keyPrefix` starts with it (the gateway passes the
 * same REDIS_KEY_PREFIX to both), that part is left out of the prefix given to
 * rate-limiter-flexible, so the key in Redis still reads `${keyPrefix}ratelimit:...` instead of
 * carrying the prefix twice. A client prefix that `keyPrefix` does not start with cannot be
 * avoided and ends up in front of the whole key.
 *
 * When Redis cannot answer (down, erroring, slow) requests are let through: an outage of the
 * counter store must not become an outage of the API. No in-memory insurance limiter stands in:
 * with several instances it would silently multiply every caller's budget by the instance
 * count while looking like enforcement; plain fail-open is at least visible, in
 * `gateway_rate_limit_fail_open_total` and a throttled warning.
 */
export function createRateLimiter(options: {
  redis: Redis | undefined;
  keyPrefix: string;
  config: RateLimitConfig;
  logger: Logger;
  metrics: GatewayMetrics;
}): RateLimiter {
  const { redis, config, logger, metrics } = options;
  for (const name of ["points", "anonymousPoints", "windowSeconds"] as const) {
    // A window of 0 means "never expires" to rate-limiter-flexible, and Redis floors fractions:
    // refuse both rather than lock callers out for good.
    if (!Number.isInteger(config[name]) || config[name] < 1) {
      throw new Error(`rate limit ${name} must be a positive integer, got ${config[name]}`);
    }
  }

  const prefix = `${stripClientPrefix(options.keyPrefix, redis)}ratelimit`;
  const build = (points: number): RateLimiterAbstract =>
    redis
      ? new RateLimiterRedis({
          storeClient: redis,
          keyPrefix: prefix,
          points,
          duration: config.windowSeconds,
          // Belt and braces against pile-up: even a client built with the offline queue on is
          // never sent a command while disconnected.
          rejectIfRedisNotReady: true,
        })
      : new RateLimiterMemory({ keyPrefix: prefix, points, duration: config.windowSeconds });
  const identified = build(config.points);
  const anonymous = build(config.anonymousPoints);

  let lastWarning = 0;
  let failOpenSinceWarning = 0;
  const failOpen = (error: unknown, caller: Caller): RateLimitDecision => {
    metrics.rateLimitFailOpen.inc();
    failOpenSinceWarning += 1;
    if (Date.now() - lastWarning >= FAIL_OPEN_LOG_INTERVAL_MS) {
      logger.warn(
        { err: error, callerKind: caller.kind, failOpenCount: failOpenSinceWarning },
        "rate limiter store unavailable; letting requests through unlimited",
      );
      lastWarning = Date.now();
      failOpenSinceWarning = 0;
    }
    return { allowed: true, failOpen: true };
  };

  async function consume(caller: Caller): Promise<RateLimitDecision> {
    const limiter = caller.kind === "ip" ? anonymous : identified;
    // rejectIfRedisNotReady would fail a lazyConnect client open forever, since nothing else
    // would ever make it connect; ioredis itself connects on the first command in that state.
    if (redis?.status === "wait") redis.connect().catch(() => {});
    try {
      const decide = () => withDeadline(limiter.consume(`${caller.kind}:${caller.id}`), DECISION_DEADLINE_MS);
      // The client's breaker: while Redis is failing, fail open at once instead of per-request timeouts.
      const res = redis ? await breakerFor(redis).run(decide, (error) => !(error instanceof RateLimiterRes)) : await decide();
      return {
        allowed: true,
        limit: limiter.points,
        remaining: res.remainingPoints,
        resetSeconds: Math.max(0, Math.ceil(res.msBeforeNext / 1000)),
      };
    } catch (rejection) {
      // rate-limiter-flexible rejects with a RateLimiterRes for "over the limit" and with the
      // store's Error for anything that kept it from deciding; only the first is a decision.
      if (rejection instanceof RateLimiterRes) {
        return { allowed: false, limit: limiter.points, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
      }
      return failOpen(rejection, caller);
    }
  }

  return {
    consume,
    stage(callerOf) {
      return async (req, res, state) => {
        const decision = await consume(callerOf(state, req));
        if (!decision.allowed) {
          metrics.rejected.inc({ code: "RATE_LIMITED" });
          sendRateLimited(res, decision, "Too many requests");
          return ANSWERED;
        }
        // Failing open has no count to report; made-up headers would mislead clients.
        if (!("failOpen" in decision)) {
          res.setHeader("RateLimit-Limit", String(decision.limit));
          res.setHeader("RateLimit-Remaining", String(decision.remaining));
          res.setHeader("RateLimit-Reset", String(decision.resetSeconds));
        }
        return;
      };
    },
  };
}

function stripClientPrefix(keyPrefix: string, redis: Redis | undefined): string {
  const clientPrefix = redis?.options.keyPrefix ?? "";
  return clientPrefix && keyPrefix.startsWith(clientPrefix) ? keyPrefix.slice(clientPrefix.length) : keyPrefix;
}

/** Rejects with an Error (so: fail open) if `promise` has not settled within `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`rate limit decision took longer than ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** The 429 every limit answers with: Retry-After, RateLimit-* and a RATE_LIMITED error. */
export function sendRateLimited(res: GatewayResponse, decision: { limit: number; retryAfterSeconds: number }, what: string): void {
  const seconds = decision.retryAfterSeconds;
  res.setHeader("Retry-After", String(seconds));
  res.setHeader("RateLimit-Limit", String(decision.limit));
  res.setHeader("RateLimit-Remaining", "0");
  res.setHeader("RateLimit-Reset", String(seconds));
  sendError(res, 429, "RATE_LIMITED", `${what}; retry in ${seconds} seconds.`, { retryAfter: seconds });
}
