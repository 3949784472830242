import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import type { GraphQLFormattedError } from "graphql";
import { ErrorCode, isPoolExhausted, isPublicCode } from "./errors.ts";
import type { Viewer } from "./auth/viewer.ts";
import type { Logger } from "./logger.ts";

export interface RequestScoped extends BaseContext {
  requestId: string;
  /** The caller as the gateway verified it; null when anonymous. */
  viewer: Viewer | null;
}

const MASKED_MESSAGE = "Internal server error";

/**
 * Errors with a public code reach the client as they are; every other error (a bug, a database
 * failure, a driver message that may contain SQL) is replaced by a generic one carrying the
 * request id, and the original is logged under that id so an operator can find it.
 */
export function errorMaskingPlugin<TContext extends RequestScoped>(logger: Logger): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue, operationName }) {
          for (const error of errors) {
            const code = error.extensions?.code;
            // A busy pool is answered as SERVICE_UNAVAILABLE (subgraph-app's formatError), not a bug.
            if (isPublicCode(code) || isPoolExhausted(error)) continue;
            logger.error(
              {
                requestId: contextValue.requestId,
                operationName,
                path: error.path,
                err: error.originalError ?? error,
              },
              "masked internal error",
            );
          }
        },
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind === "single" && response.body.singleResult.errors) {
            const status = response.http.status ?? 200;
            response.body.singleResult.errors = response.body.singleResult.errors.map((error) =>
              maskError(error, contextValue.requestId, status >= 400 && status < 500),
            );
          }
        },
      };
    },
  };
}

/**
 * `clientError`: the response already has a 4xx status. Apollo Server's request pipeline raises a
 * few such errors without a code (e.g. "provided sha does not match query"); they describe the
 * request, not our internals, so they keep their message under the code BAD_REQUEST.
 */
export function maskError(
  error: GraphQLFormattedError,
  requestId: string | undefined,
  clientError = false,
): GraphQLFormattedError {
  const { stacktrace: _stacktrace, ...extensions } = error.extensions ?? {};
  if (isPublicCode(extensions.code)) {
    return { ...error, extensions: publicExtensions(extensions) };
  }
  if (clientError) {
    return { ...error, extensions: { ...extensions, code: "BAD_REQUEST" } };
  }
  return {
    message: MASKED_MESSAGE,
    ...(error.path ? { path: error.path } : {}),
    ...(error.locations ? { locations: error.locations } : {}),
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, ...(requestId ? { requestId } : {}) },
  };
}

/**
 * What a public error may tell a client. Anything else (e.g. a `response` extension with a
 * subgraph's URL and body, added by Apollo's data source) stays in the logs.
 */
const PUBLIC_EXTENSIONS = new Set([
  "code",
  "field",
  "limit",
  "actual",
  "retryAfter",
  "requestId",
  "serviceName",
  // Selling: what a client needs to recover from a refused order or payment.
  "shortages",
  "productId",
  "productIds",
  "currencies",
  "declineCode",
  "orderId",
  "from",
  "to",
  "allowed",
  // Why a write was refused, stable for clients to branch on (REVIEW_EXISTS, CATEGORY_CYCLE, SELF,
  // NOT_ACTIVE_ADMIN, ...), and the review to edit instead of writing a second.
  "reason",
  "reviewId",
]);

function publicExtensions(extensions: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(extensions).filter(([key]) => PUBLIC_EXTENSIONS.has(key)));
}
