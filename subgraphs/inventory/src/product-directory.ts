import { ErrorCode, IDENTITY_HEADER, type SubgraphRequest } from "@catalog/common";
import { GraphQLError } from "graphql";

/** Asks the products subgraph, which owns products, whether one exists. */
export interface ProductDirectory {
  exists(productId: string): Promise<boolean>;
}

const TIMEOUT_MS = 3_000;
const LOOKUP = `query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { id } } }`;

/**
 * Inventory must not invent stock for a product that does not exist, and it cannot read the
 * products database (each subgraph owns its data). So before the first stock of an unknown product
 * is recorded, it resolves the Product entity through the products subgraph, exactly as the
 * gateway would. Only that first write pays for the round trip.
 */
export function productDirectory(productsUrl: () => string | undefined, request: SubgraphRequest): ProductDirectory {
  const unavailable = () =>
    new GraphQLError("The product catalog could not be reached to verify the product; try again.", {
      extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
    });
  return {
    async exists(productId) {
      const url = productsUrl();
      if (!url) throw unavailable();
      let body: { data?: { _entities?: unknown[] } };
      try {
        const response = await fetch(url, {
          method: "POST",
          // The gateway's signed identity travels on: products accepts only what the gateway vouched for.
          headers: {
            "content-type": "application/json",
            "x-request-id": request.requestId,
            [IDENTITY_HEADER]: request.identityToken,
          },
          body: JSON.stringify({ query: LOOKUP, variables: { representations: [{ __typename: "Product", id: productId }] } }),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        if (!response.ok) throw unavailable();
        body = (await response.json()) as typeof body;
      } catch {
        throw unavailable();
      }
      const entities = body.data?._entities;
      if (!Array.isArray(entities)) throw unavailable();
      return entities[0] !== null && entities[0] !== undefined;
    },
  };
}
