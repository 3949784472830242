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
