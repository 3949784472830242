import { ErrorCode, peerClient, type SubgraphRequest } from "@catalog/common";
import { GraphQLError } from "graphql";

/** Asks the products subgraph, which owns products, whether one exists. */
export interface ProductDirectory {
  exists(productId: string): Promise<boolean>;
}

const LOOKUP = `query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { id } } }`;

/**
 * Inventory must not invent stock for a product that does not exist, and it cannot read the
 * products database (each subgraph owns its data). So before the first stock of an unknown product
 * is recorded, it resolves the Product entity through the products subgraph, exactly as the
 * gateway would, with the caller's signed identity. Only that first write pays for the round trip.
 */
export function productDirectory(productsUrl: () => string | undefined, request: SubgraphRequest): ProductDirectory {
  const call = peerClient("products", productsUrl, { timeoutMs: 3_000 });
  return {
    async exists(productId) {
      let entities: unknown;
      try {
        const { data } = await call<{ _entities?: unknown[] }>(request, LOOKUP, {
          representations: [{ __typename: "Product", id: productId }],
        });
        entities = data._entities;
      } catch {
        entities = undefined;
      }
      if (!Array.isArray(entities)) {
        throw new GraphQLError("The product catalog could not be reached to verify the product; try again.", {
          extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
        });
      }
      return entities[0] !== null && entities[0] !== undefined;
    },
  };
}
