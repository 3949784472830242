import { isUuid } from "@catalog/common";
import type { Context } from "../context.ts";
import type { Review as ReviewRow } from "../prisma.ts";

export const Review = {
  __resolveReference(reference: { id?: unknown }, ctx: Context) {
    if (!isUuid(reference.id)) return null;
    // A hidden review is as good as gone to everyone reading.
    return ctx.loaders.reviewById.load(reference.id.toLowerCase()).then((review) => (review && review.hiddenAt === null ? review : null));
  },
  product(review: ReviewRow, _: unknown, ctx: Context) {
    return ctx.loaders.productById.load(review.productId);
  },
  // The users subgraph resolves the rest; this subgraph only knows the key.
  author(review: ReviewRow) {
    return { __typename: "User", id: review.authorId };
  },
};
