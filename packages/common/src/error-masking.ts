import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import type { GraphQLFormattedError } from "graphql";
import { ErrorCode, isPublicCode } from "./errors.ts";
import type { Logger } from "./logger.ts";

export interface RequestScoped extends BaseContext {
  requestId: string;
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
            if (isPublicCode(code)) continue;
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
            response.body.singleResult.errors = response.body.singleResult.errors.map((error) =>
              maskError(error, contextValue.requestId),
            );
          }
        },
      };
    },
  };
}

export function maskError(error: GraphQLFormattedError, requestId: string | undefined): GraphQLFormattedError {
  const { stacktrace: _stacktrace, ...extensions } = error.extensions ?? {};
  if (isPublicCode(extensions.code)) {
    return { ...error, extensions };
  }
  return {
    message: MASKED_MESSAGE,
    ...(error.path ? { path: error.path } : {}),
    ...(error.locations ? { locations: error.locations } : {}),
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, ...(requestId ? { requestId } : {}) },
  };
}
