import { badUserInput, coded, ErrorCode, hasScope, mapPrismaError, notFound, parseId, requireViewer, type Viewer } from "@catalog/common";
import type { Context } from "./context.ts";
import { listingTags } from "./listing-tags.ts";
import type { Prisma, Review } from "./prisma.ts";
import { createReviewInput, hideReason, updateReviewInput, validate } from "./validation.ts";

/** Moderators hide, show and delete any review (role ADMIN). */
export const MODERATE_SCOPE = "reviews:moderate";

/** CONFLICT (our 409) with a reason clients can branch on, and the review to edit instead. */
const reviewExists = (existingId?: string) =>
  coded(ErrorCode.CONFLICT, "You have already reviewed this product; edit that review instead.", {
    field: "input.productId",
    reason: "REVIEW_EXISTS",
    ...(existingId ? { reviewId: existingId } : {}),
  });

/**
 * What a review change purges from the gateway's response cache: the review, its product's page
 * and every listing its rating shows in (count, average; the same tags as a product change).
 */
async function purge(ctx: Context, review: Pick<Review, "id" | "productId">): Promise<void> {
  await ctx.cache.invalidate([`Review:${review.id}`, ...(await listingTags(ctx.db, [review.productId]))]);
}

/**
 * The review `viewer` may act on. A hidden review is gone for everyone reading it, so to anyone
 * but its author and moderators it does not exist here either (NOT_FOUND, not FORBIDDEN).
 */
async function findReview(ctx: Context, id: string, viewer: Viewer | null): Promise<Review> {
  const review = await ctx.prisma.review.findUnique({ where: { id } });
  const hiddenFromViewer = review?.hiddenAt != null && review.authorId !== viewer?.userId && !hasScope(viewer, MODERATE_SCOPE);
  if (!review || hiddenFromViewer) throw notFound(`No review has id ${id}.`);
  return review;
}

function requireAuthor(viewer: Viewer, review: Review): void {
  if (review.authorId !== viewer.userId) throw coded(ErrorCode.FORBIDDEN, "Only the author may change this review.");
}

export async function createReview(ctx: Context, rawInput: unknown): Promise<Review> {
  const viewer = requireViewer(ctx.viewer);
  const input = validate(createReviewInput, rawInput);
  const productId = parseId(input.productId, "input.productId");
  const product = await ctx.loaders.productById.load(productId);
  if (!product) throw notFound(`No product has id ${productId}.`);
  const existing = await ctx.prisma.review.findUnique({ where: { productId_authorId: { productId, authorId: viewer.userId } }, select: { id: true } });
  if (existing) throw reviewExists(existing.id);
  // Asked before anything is written: when orders cannot answer, the review is refused whole.
  const verifiedPurchase = await ctx.purchases.hasBought(ctx.requestId, viewer.userId, productId);
  const created = await ctx.prisma.review
    .create({ data: { productId, authorId: viewer.userId, rating: input.rating, title: input.title, body: input.body, verifiedPurchase } })
    .catch((error: unknown) => {
      // Two writes of the same author at once: the unique index lets one through.
      if ((error as { code?: unknown }).code === "P2002") throw reviewExists();
      return mapPrismaError(error);
    });
  await purge(ctx, created);
  return created;
}

export async function updateReview(ctx: Context, rawId: string, rawInput: unknown): Promise<Review> {
  const viewer = requireViewer(ctx.viewer);
  const id = parseId(rawId);
  const input = validate(updateReviewInput, rawInput);
  const review = await findReview(ctx, id, viewer);
  requireAuthor(viewer, review);
  const data: Prisma.ReviewUncheckedUpdateInput = {};
  if (input.rating != null) data.rating = input.rating;
  if (input.body != null) data.body = input.body;
  if (input.title !== undefined) data.title = input.title || null;
  if (Object.keys(data).length === 0) throw badUserInput("input must change at least one field.", "input");
  // A purchase made since the review was written verifies it; a verified one stays verified
  // (refunds do not un-verify: docs/decisions/0020).
  if (!review.verifiedPurchase) data.verifiedPurchase = await ctx.purchases.hasBought(ctx.requestId, viewer.userId, review.productId);
  const updated = await ctx.prisma.review
    .update({ where: { id }, data })
    .catch((error: unknown) => mapPrismaError(error, { notFound: `No review has id ${id}.` }));
  await purge(ctx, updated);
  return updated;
}

export async function deleteReview(ctx: Context, rawId: string): Promise<string> {
  const viewer = requireViewer(ctx.viewer);
  const id = parseId(rawId);
  const review = await findReview(ctx, id, viewer);
  if (!hasScope(viewer, MODERATE_SCOPE)) requireAuthor(viewer, review);
  await ctx.prisma.review
    .delete({ where: { id } })
    .catch((error: unknown) => mapPrismaError(error, { notFound: `No review has id ${id}.` }));
  await purge(ctx, review);
  return id;
}

/** Moderation (@requiresScopes reviews:moderate): hidden reviews leave every list, count and average. */
export async function setReviewHidden(ctx: Context, rawId: string, hidden: boolean, rawReason?: string | null): Promise<Review> {
  const id = parseId(rawId);
  const reason = validate(hideReason, rawReason, "reason");
  const review = await findReview(ctx, id, ctx.viewer);
  if ((review.hiddenAt !== null) === hidden && (!hidden || (reason ?? null) === review.hiddenReason)) return review;
  const updated = await ctx.prisma.review
    .update({ where: { id }, data: hidden ? { hiddenAt: new Date(), hiddenReason: reason ?? null } : { hiddenAt: null, hiddenReason: null } })
    .catch((error: unknown) => mapPrismaError(error, { notFound: `No review has id ${id}.` }));
  await purge(ctx, updated);
  return updated;
}
