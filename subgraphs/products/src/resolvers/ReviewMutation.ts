import type { Context } from "../context.ts";
import { createReview, deleteReview, setReviewHidden, updateReview } from "../reviews.ts";

/** Review writes (reviews.ts): the author's own, and moderation. */
export const ReviewMutation = {
  createReview(_: unknown, args: { input: unknown }, ctx: Context) {
    return createReview(ctx, args.input);
  },
  updateReview(_: unknown, args: { id: string; input: unknown }, ctx: Context) {
    return updateReview(ctx, args.id, args.input);
  },
  deleteReview(_: unknown, args: { id: string }, ctx: Context) {
    return deleteReview(ctx, args.id);
  },
  hideReview(_: unknown, args: { id: string; reason?: string | null }, ctx: Context) {
    return setReviewHidden(ctx, args.id, true, args.reason);
  },
  unhideReview(_: unknown, args: { id: string }, ctx: Context) {
    return setReviewHidden(ctx, args.id, false);
  },
};
