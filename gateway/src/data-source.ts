import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { isPublicCode } from "@catalog/common";
import { GraphQLError } from "graphql";
import type { GatewayContext } from "./context.ts";

type FetcherResponse = Parameters<RemoteGraphQLDataSource["errorFromResponse"]>[0];

interface SubgraphErrorBody {
  errors?: { message?: unknown; extensions?: { code?: unknown } }[];
}

/**
 * Every request to a subgraph goes through here; it is the one place that decides which headers a
 * subgraph sees. Today that is only the request id, so a subgraph's logs line up with ours.
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    if (context && "requestId" in context && context.requestId) {
      request.http?.headers.set("x-request-id", context.requestId);
    }
  }

  /**
   * A subgraph answers 400 when a custom scalar (Decimal, DateTime) rejects a variable: only the
   * subgraph knows how to parse it. That is the client's mistake, so pass the subgraph's own
   * public error through instead of an opaque "400: Bad Request" that would be masked as internal.
   */
  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    const error = await super.errorFromResponse(response);
    const body = (error.extensions?.response as { body?: SubgraphErrorBody } | undefined)?.body;
    const first = typeof body === "object" ? body?.errors?.[0] : undefined;
    const code = first?.extensions?.code;
    if (response.status === 400 && typeof first?.message === "string" && isPublicCode(code)) {
      return new GraphQLError(first.message, { extensions: { code } });
    }
    return error;
  }
}
