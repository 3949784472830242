import { GraphQLError } from "graphql";
import { IDENTITY_HEADER } from "./auth/internal-identity.ts";
import { ErrorCode, isPublicCode } from "./errors.ts";

/** The identity a subgraph-to-subgraph call carries: the caller's (forwarded) or the service's own. */
export interface PeerIdentity {
  requestId: string;
  identityToken: string;
}

export interface PeerError {
  message: string;
  path?: readonly (string | number)[];
  extensions?: { code?: unknown; [key: string]: unknown };
}

/**
 * Calls one peer subgraph's GraphQL endpoint, the way the gateway would, with a signed identity.
 * Failures to get an answer (unreachable, timed out, non-2xx, no `data`) become
 * SERVICE_UNAVAILABLE naming the peer, never its address; the caller decides whether to retry.
 * GraphQL errors the peer returns with a public code are rethrown as they are (`throwErrors`),
 * so a saga step can tell "refused" (e.g. CONFLICT) from "unknown outcome".
 */
export function peerClient(peer: string, url: () => string | undefined, options: { timeoutMs: number }) {
  const unavailable = (cause?: unknown) =>
    new PeerUnavailableError(`The ${peer} service could not be reached; try again.`, cause);
  return async function call<T>(
    identity: PeerIdentity,
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<{ data: T; errors: readonly PeerError[] }> {
    const endpoint = url();
    if (!endpoint) throw unavailable();
    let body: { data?: T | null; errors?: PeerError[] };
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-request-id": identity.requestId,
          [IDENTITY_HEADER]: identity.identityToken,
        },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      if (!response.ok) throw unavailable(new Error(`${peer} answered ${response.status}`));
      body = (await response.json()) as typeof body;
    } catch (error) {
      throw error instanceof PeerUnavailableError ? error : unavailable(error);
    }
    if (body.data === undefined || body.data === null) {
      const first = body.errors?.[0];
      if (first && isPublicCode(first.extensions?.code)) throw peerGraphQLError(first);
      throw unavailable(new Error(`${peer} answered without data: ${first?.message ?? "no errors"}`));
    }
    return { data: body.data, errors: body.errors ?? [] };
  };
}

/** The peer did not give an answer; the outcome of a write sent to it is unknown. */
export class PeerUnavailableError extends GraphQLError {
  constructor(message: string, cause?: unknown) {
    super(message, { extensions: { code: ErrorCode.SERVICE_UNAVAILABLE }, ...(cause instanceof Error ? { originalError: cause } : {}) });
  }
}

/** A peer's public error, passed on with its code (and only its public extensions). */
export function peerGraphQLError(error: PeerError): GraphQLError {
  const { code, ...rest } = error.extensions ?? {};
  return new GraphQLError(error.message, { extensions: { code, ...rest } });
}
