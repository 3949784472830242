import { HeaderMap, type ApolloServerPlugin } from "@apollo/server";
import { ErrorCode } from "@catalog/common/edge";
import { GraphQLError, Kind, type DocumentNode, type SelectionSetNode } from "graphql";
import type { GatewayContext } from "./context.ts";
import type { Caller, RateLimiter } from "./rate-limit.ts";

/**
 * A budget for some mutations of their own, far below the general rate limit: what an attacker
 * or a script would repeat (password guesses, review spam). Counted in Redis like the rest.
 */
export interface MutationLimit {
  /** Names the budget in messages ("sign-in", "review"). */
  name: string;
  /** The mutation fields it counts. */
  fields: ReadonlySet<string>;
  limiter: RateLimiter;
  /** Who is counted; undefined: not counted here (e.g. anonymous, which the field refuses anyway). */
  callerOf(context: GatewayContext): Caller | undefined;
}

function countFields(fields: ReadonlySet<string>, selectionSet: SelectionSetNode, document: DocumentNode, seen = new Set<string>()): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (fields.has(selection.name.value)) count += 1;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += countFields(fields, selection.selectionSet, document, seen);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = document.definitions.find(
        (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value,
      );
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) count += countFields(fields, fragment.selectionSet, document, seen);
    }
  }
  return count;
}

/**
 * Each limit counts one point per request holding one of its fields. Aliases would let one request
 * repeat the mutation many times for one point, so a request may hold one field of each limit.
 */
export function mutationLimitPlugin(limits: readonly MutationLimit[], onReject: (code: string) => void): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, contextValue }) {
          if (operation?.operation !== "mutation") return;
          for (const limit of limits) {
            const count = countFields(limit.fields, operation.selectionSet, document);
            if (count === 0) continue;
            if (count > 1) {
              onReject(ErrorCode.BAD_USER_INPUT);
              throw new GraphQLError(`A request may contain one ${limit.name} mutation (${[...limit.fields].join(", ")}).`, {
                extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
              });
            }
            const caller = limit.callerOf(contextValue);
            if (!caller) continue;
            const decision = await limit.limiter.consume(caller);
            if (decision.allowed) continue;
            onReject(ErrorCode.RATE_LIMITED);
            throw new GraphQLError(`Too many ${limit.name} attempts; retry in ${decision.retryAfterSeconds} seconds.`, {
              extensions: {
                code: ErrorCode.RATE_LIMITED,
                retryAfter: decision.retryAfterSeconds,
                http: { status: 429, headers: new HeaderMap([["retry-after", String(decision.retryAfterSeconds)]]) },
              },
            });
          }
        },
      };
    },
  };
}

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
