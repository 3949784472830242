import { HeaderMap, type ApolloServerPlugin } from "@apollo/server";
import { ErrorCode } from "@catalog/common/edge";
import { GraphQLError, Kind, type DocumentNode, type SelectionSetNode } from "graphql";
import type { GatewayContext } from "./context.ts";
import type { RateLimiter } from "./rate-limit.ts";

/**
 * Mutations that check a password, a refresh token or a reset token, or send mail to an address
 * the caller names: what credential guessing and mail flooding call.
 */
const SIGN_IN_FIELDS = new Set(["login", "register", "refreshToken", "changePassword", "requestPasswordReset", "resetPassword"]);

function signInFields(selectionSet: SelectionSetNode, document: DocumentNode, seen = new Set<string>()): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (SIGN_IN_FIELDS.has(selection.name.value)) count += 1;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += signInFields(selection.selectionSet, document, seen);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = document.definitions.find(
        (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value,
      );
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) count += signInFields(fragment.selectionSet, document, seen);
    }
  }
  return count;
}

/**
 * Password guessing gets a budget of its own, far below the general rate limit: sign-in attempts
 * per client IP (SIGNIN_RATE_LIMIT_POINTS per window), counted in Redis like the rest. Aliases
 * would let one request try many passwords, so a request may hold one sign-in mutation only.
 */
export function signInLimitPlugin(limiter: RateLimiter, onReject: (code: string) => void): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, contextValue }) {
          if (operation?.operation !== "mutation") return;
          const count = signInFields(operation.selectionSet, document);
          if (count === 0) return;
          if (count > 1) {
            onReject(ErrorCode.BAD_USER_INPUT);
            throw new GraphQLError(`A request may contain one sign-in mutation (${[...SIGN_IN_FIELDS].join(", ")}).`, {
              extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
            });
          }
          const decision = await limiter.consume({ kind: "ip", id: contextValue.clientIp });
          if (decision.allowed) return;
          onReject(ErrorCode.RATE_LIMITED);
          throw new GraphQLError(`Too many sign-in attempts; retry in ${decision.retryAfterSeconds} seconds.`, {
            extensions: {
              code: ErrorCode.RATE_LIMITED,
              retryAfter: decision.retryAfterSeconds,
              http: { status: 429, headers: new HeaderMap([["retry-after", String(decision.retryAfterSeconds)]]) },
            },
          });
        },
      };
    },
  };
}
