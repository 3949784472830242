import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { ErrorCode, IDENTITY_HEADER, isPublicCode, type Logger } from "@catalog/common";
import { GraphQLError } from "graphql";
import type { GatewayContext } from "./context.ts";
import { currentDeadline } from "./deadline.ts";

type FetcherResponse = Parameters<RemoteGraphQLDataSource["errorFromResponse"]>[0];

interface SubgraphErrorBody {
  errors?: { message?: unknown; extensions?: { code?: unknown } }[];
}

/**
 * Every request to a subgraph goes through here; it is the one place that decides which headers a
 * subgraph sees: the request id, so logs line up, and the gateway-signed identity of the caller.
 * No client header is forwarded.
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    private readonly subgraph: string,
    url: string | undefined,
    timeoutMs: number,
    private readonly logger: Logger,
  ) {
    super({
      ...(url ? { url } : {}),
      // Each call ends at the sooner of its own timeout and the whole request's deadline.
      fetcher: (input, init) => {
        const deadline = currentDeadline();
        const timeout = AbortSignal.timeout(timeoutMs);
        return fetch(input, { ...init, signal: deadline ? AbortSignal.any([timeout, deadline]) : timeout });
      },
    });
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (context && "identityToken" in context) {
      request.http?.headers.set("x-request-id", context.requestId);
      request.http?.headers.set(IDENTITY_HEADER, context.identityToken);
    }
  }

  /**
   * A subgraph answers 400 when a custom scalar (Decimal, DateTime) rejects a variable: only the
   * subgraph knows how to parse it. That is the client's mistake, so pass the subgraph's own
   * public error through instead of an opaque "400: Bad Request" that would be masked as internal.
   * Any other failed status (a 401 when the internal secret or clocks disagree, a 5xx) is our
   * fault, not the caller's: SERVICE_UNAVAILABLE naming the subgraph, never Apollo's default
   * error, which carries the subgraph's URL and response body and, for a 401, tells the client
   * to sign in again.
   */
  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    if (response.status === 400) {
      const error = await super.errorFromResponse(response);
      const body = (error.extensions?.response as { body?: SubgraphErrorBody } | undefined)?.body;
      const first = typeof body === "object" ? body?.errors?.[0] : undefined;
      const code = first?.extensions?.code;
      if (typeof first?.message === "string" && isPublicCode(code)) {
        return new GraphQLError(first.message, { extensions: { code } });
      }
    }
    // A client sees only "unavailable"; an operator needs the status (401: secrets or clocks).
    this.logger.error({ subgraph: this.subgraph, status: response.status }, "subgraph refused or failed a request");
    return new GraphQLError(`The ${this.subgraph} service is unavailable; try again later.`, {
      extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
    });
  }

  /**
   * Timeouts and unreachable subgraphs become public errors that name the subgraph but never its
   * URL or the network error text (which would disclose internal addresses).
   */
  override didEncounterError(error: Error): void {
    if (error.name === "TimeoutError" || error.name === "AbortError") {
      throw new GraphQLError(`The ${this.subgraph} service did not answer in time.`, {
        extensions: { code: ErrorCode.GATEWAY_TIMEOUT },
      });
    }
    if (error instanceof TypeError && error.message === "fetch failed") {
      throw new GraphQLError(`The ${this.subgraph} service is unavailable; try again later.`, {
        extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
      });
    }
    throw error;
  }
}
