import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import type { GatewayContext } from "./context.ts";

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
}
