import { isUuid, required } from "@catalog/common";
import type { ReviewResolvers } from "../generated/graphql.ts";

export const Review: ReviewResolvers = {
  __resolveReference(reference, ctx) {
    if (!isUuid(reference.id)) return null;
    // A hidden review is as good as gone to everyone reading.
    return ctx.loaders.reviewById.load(reference.id.toLowerCase()).then((review) => (review && review.hiddenAt === null ? review : null));
  },
  product(review, _, ctx) {
    return required(ctx.loaders.productById.load(review.productId), `product ${review.productId} of review ${review.id}`);
  },
  // The users subgraph resolves the rest; this subgraph only knows the key.
  author(review) {
    return { __typename: "User", id: review.authorId };
  },
};
