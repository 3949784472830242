import { createReview, deleteReview, setReviewHidden, updateReview } from "../reviews.ts";
import type { MutationResolvers } from "../generated/graphql.ts";

/** Review writes (reviews.ts): the author's own, and moderation. */
export const ReviewMutation: MutationResolvers = {
  createReview(_, args, ctx) {
    return createReview(ctx, args.input);
  },
  updateReview(_, args, ctx) {
    return updateReview(ctx, args.id, args.input);
  },
  deleteReview(_, args, ctx) {
    return deleteReview(ctx, args.id);
  },
  hideReview(_, args, ctx) {
    return setReviewHidden(ctx, args.id, true, args.reason);
  },
  unhideReview(_, args, ctx) {
    return setReviewHidden(ctx, args.id, false);
  },
};
