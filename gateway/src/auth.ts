import { ErrorCode, INTERNAL_HEADER_PREFIX, sendError, TokenError, type Logger, type TokenVerifier, type Viewer } from "@catalog/common/edge";
import type { GatewayMetrics } from "./metrics.ts";
import { ANSWERED, type HttpStage } from "./stage.ts";

const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/;

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
export function authenticate(verifier: TokenVerifier, metrics: GatewayMetrics, logger: Logger): HttpStage["run"] {
  return async (req, _res, state) => {
    for (const name of Object.keys(req.headers)) {
      if (name.startsWith(INTERNAL_HEADER_PREFIX)) delete req.headers[name];
    }
    const header = req.headers.authorization;
    if (header === undefined) return;
    const token = BEARER.exec(header)?.[1];
    if (!token) {
      metrics.authFailures.inc({ reason: "header" });
      state.authFailure = { message: "The Authorization header must be `Bearer <access token>`.", oauthError: "invalid_request" };
      return;
    }
    let viewer: Viewer;
    try {
      viewer = await verifier.verify(token);
    } catch (error) {
      const reason = error instanceof TokenError ? error.reason : "malformed";
      metrics.authFailures.inc({ reason });
      logger.info({ requestId: state.requestId, reason, detail: (error as Error).message }, "access token refused");
      state.authFailure = {
        message:
          reason === "expired" ? "The access token has expired; use refreshToken to get a new one." : "The access token is invalid.",
        oauthError: "invalid_token",
      };
      return;
    }
    state.viewer = viewer;
  };
}

/** The 401 for a request whose bearer token or API key was refused. */
export const refuseInvalidCredentials: HttpStage["run"] = (_req, res, state) => {
  if (state.apiKeyRefused) {
    sendError(res, 401, ErrorCode.UNAUTHENTICATED, "The API key is invalid or revoked.");
    return ANSWERED;
  }
  const failure = state.authFailure;
  if (!failure) return;
  res.setHeader("www-authenticate", `Bearer realm="catalog", error="${failure.oauthError}"`);
  sendError(res, 401, ErrorCode.UNAUTHENTICATED, failure.message);
  return ANSWERED;
};
