import { decodeTimeCursor, parseFirst, timeConnection, type Connection, type Database, type TimeKey } from "@catalog/common";
import type { Review } from "./prisma.ts";

/**
 * The reviews anyone sees, over `reviews` rows (alias r): moderators' hidden ones are left out.
 * Every statement that lists, counts or averages reviews uses this one condition.
 */
export const VISIBLE_REVIEW = "r.hidden_at IS NULL";

/** The aggregates of a product's reviews, over `reviews` rows (alias r) filtered by VISIBLE_REVIEW; the listing joins the same. */
export const REVIEW_SUMMARY_COLUMNS = "count(*)::int AS count, avg(r.rating)::float8 AS average";

/** Cursors of `Product.reviews`: the last review's (createdAt, id), newest first. */
const CURSOR_KIND = "reviews:newest";

export interface ReviewPageKey {
  productId: string;
  first: number;
  /** The last review of the previous page. */
  after?: TimeKey | undefined;
}

export function reviewPageKey(key: ReviewPageKey): string {
  return `${key.productId}:${key.first}:${key.after ? `${key.after.createdAt.toISOString()}:${key.after.id}` : ""}`;
}

/** The arguments of `Product.reviews` as a loader key; a bad `first` or a cursor we did not issue is BAD_USER_INPUT. */
export function reviewPageArgs(productId: string, args: { first?: number | null; after?: string | null }): ReviewPageKey {
  const after = decodeTimeCursor(args.after, CURSOR_KIND);
  return { productId, first: parseFirst(args.first ?? 10), ...(after ? { after } : {}) };
}

export function reviewConnection(rows: Review[], first: number): Connection<Review> {
  return timeConnection(rows, first, CURSOR_KIND);
}

const COLUMNS = `r.id::text AS id, r.product_id::text AS "productId", r.author_id::text AS "authorId", r.rating::int AS rating,
  r.title, r.body, r.verified_purchase AS "verifiedPurchase", r.hidden_at AS "hiddenAt", r.hidden_reason AS "hiddenReason",
  r.created_at AS "createdAt", r.updated_at AS "updatedAt"`;

/**
 * Every key's page in one statement, whatever their sizes and cursors: each key (product, page
 * size, cursor) is a row of unnest, and a lateral subquery walks that product's (created_at, id)
 * keyset, newest first, for `first + 1` visible reviews.
 */
export async function reviewPages(db: Database, keys: readonly ReviewPageKey[]): Promise<Review[][]> {
  const rows = await db.read<Review & { key: number }>(
    `SELECT k.n::int AS key, ${COLUMNS}
     FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::uuid[]) WITH ORDINALITY AS k(product_id, take, after_at, after_id, n)
     CROSS JOIN LATERAL (
       SELECT * FROM reviews r
       WHERE r.product_id = k.product_id AND ${VISIBLE_REVIEW}
         AND (k.after_at IS NULL OR (r.created_at, r.id) < (k.after_at, k.after_id))
       ORDER BY r.created_at DESC, r.id DESC
       LIMIT k.take
     ) r
     ORDER BY k.n, r.created_at DESC, r.id DESC`,
    [
      keys.map((key) => key.productId),
      keys.map((key) => key.first + 1),
      keys.map((key) => key.after?.createdAt.toISOString() ?? null),
      keys.map((key) => key.after?.id ?? null),
    ],
  );
  const pages = keys.map((): Review[] => []);
  for (const { key, ...review } of rows) pages[key - 1]!.push(review);
  return pages;
}
