import type { GatewayContext } from "./context.ts";
import type { MutationLimit } from "./mutation-limit.ts";
import type { RateLimiter } from "./rate-limit.ts";

/**
 * Mutations that check a password, a refresh token or a reset token, or send mail to an address
 * the caller names: what credential guessing and mail flooding call.
 */
const SIGN_IN_FIELDS = new Set(["login", "register", "refreshToken", "changePassword", "requestPasswordReset", "resetPassword"]);

/**
 * Password guessing gets a budget of its own, far below the general rate limit: sign-in attempts
 * per client IP (SIGNIN_RATE_LIMIT_POINTS per window), one sign-in mutation per request.
 */
export function signInLimit(limiter: RateLimiter): MutationLimit {
  return { name: "sign-in", fields: SIGN_IN_FIELDS, limiter, callerOf: (context: GatewayContext) => ({ kind: "ip", id: context.clientIp }) };
}

/** Review writes: what a script posting fake reviews repeats. */
const REVIEW_WRITE_FIELDS = new Set(["createReview", "updateReview", "deleteReview"]);

/**
 * Review writes per signed-in user (REVIEW_RATE_LIMIT_POINTS per REVIEW_RATE_LIMIT_WINDOW_SECONDS),
 * one per request. Anonymous callers are not counted here: the fields refuse them (@authenticated);
 * nor are moderators (scope reviews:moderate), who may delete a flood of spam in an hour.
 */
export function reviewWriteLimit(limiter: RateLimiter): MutationLimit {
  return {
    name: "review",
    fields: REVIEW_WRITE_FIELDS,
    limiter,
    callerOf: (context: GatewayContext) => {
      const viewer = context.state?.viewer;
      return viewer && !viewer.scopes.includes("reviews:moderate") ? { kind: "user", id: viewer.userId } : undefined;
    },
  };
}
