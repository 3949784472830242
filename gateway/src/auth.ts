import { ErrorCode, INTERNAL_HEADER_PREFIX, sendError, TokenError, type Logger, type TokenVerifier, type Viewer } from "@catalog/common";
import type { NextFunction, RequestHandler, Response } from "express";
import type { GatewayMetrics } from "./metrics.ts";

const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/;

interface AuthFailure {
  message: string;
  oauthError: "invalid_request" | "invalid_token";
}

/**
 * Establishes who is calling before anything else runs. No Authorization header: anonymous. A
 * header that is not a valid Bearer token is recorded as a failure, answered with 401 by
 * `refuseInvalidCredentials` (never a silent fall back to anonymous, so a client with an expired
 * token learns it instead of quietly seeing less data). The two are apart so the rate limiter can
 * run in between: a caller sending bad tokens is counted by IP like any anonymous caller.
 *
 * It also removes any client header in our internal namespace: only the gateway may speak for a
 * caller to the subgraphs, and the data source sets that header from the verified viewer alone.
 */
export function authenticate(verifier: TokenVerifier, metrics: GatewayMetrics, logger: Logger): RequestHandler {
  return async (req, res, next) => {
    for (const name of Object.keys(req.headers)) {
      if (name.startsWith(INTERNAL_HEADER_PREFIX)) delete req.headers[name];
    }
    const header = req.headers.authorization;
    if (header === undefined) {
      res.locals.viewer = null;
      return next();
    }
    const token = BEARER.exec(header)?.[1];
    if (!token) {
      metrics.authFailures.inc({ reason: "header" });
      return fail(res, next, { message: "The Authorization header must be `Bearer <access token>`.", oauthError: "invalid_request" });
    }
    let viewer: Viewer;
    try {
      viewer = await verifier.verify(token);
    } catch (error) {
      const reason = error instanceof TokenError ? error.reason : "malformed";
      metrics.authFailures.inc({ reason });
      logger.info({ requestId: res.locals.requestId, reason, detail: (error as Error).message }, "access token refused");
      return fail(res, next, {
        message:
          reason === "expired" ? "The access token has expired; use refreshToken to get a new one." : "The access token is invalid.",
        oauthError: "invalid_token",
      });
    }
    res.locals.viewer = viewer;
    next();
  };
}

function fail(res: Response, next: NextFunction, failure: AuthFailure): void {
  res.locals.viewer = null;
  res.locals.authFailure = failure;
  next();
}

/** The 401 for a request whose bearer token or API key was refused. */
export const refuseInvalidCredentials: RequestHandler = (_req, res, next) => {
  if (res.locals.apiKeyRefused === true) return sendError(res, 401, ErrorCode.UNAUTHENTICATED, "The API key is invalid or revoked.");
  const failure = res.locals.authFailure as AuthFailure | undefined;
  if (!failure) return next();
  res.setHeader("www-authenticate", `Bearer realm="catalog", error="${failure.oauthError}"`);
  sendError(res, 401, ErrorCode.UNAUTHENTICATED, failure.message);
};
