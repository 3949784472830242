import { groupedInKeyOrder, inKeyOrder, type Database } from "@catalog/common";
import DataLoader from "dataloader";
import type { Category, Product, ProductsPrisma, Review } from "./prisma.ts";
import { REVIEW_SUMMARY_COLUMNS, reviewPageKey, reviewPages, VISIBLE_REVIEW, type ReviewPageKey } from "./review-pages.ts";

export interface ReviewSummaryRow {
  count: number;
  averageRating: number | null;
}

/** A product's review count and average as the aggregate SQL gives them (average rounded to cents). */
export function reviewSummaryOf(count: number | null | undefined, average: number | null | undefined): ReviewSummaryRow {
  return { count: count ?? 0, averageRating: average == null ? null : Math.round(Number(average) * 100) / 100 };
}

export interface Loaders {
  productById: DataLoader<string, Product | null>;
  productBySku: DataLoader<string, Product | null>;
  categoryById: DataLoader<string, Category | null>;
  childrenByCategoryId: DataLoader<string, Category[]>;
  reviewById: DataLoader<string, Review | null>;
  /** A page of each product's visible reviews, newest first: up to `first + 1` rows (the extra one says there is more). */
  reviewPage: DataLoader<ReviewPageKey, Review[], string>;
  reviewSummary: DataLoader<string, ReviewSummaryRow>;
}

/** Per request. Each loader turns one tick's worth of lookups into one SQL statement. */
export function createLoaders(prisma: ProductsPrisma, db: Database): Loaders {
  const productById = new DataLoader<string, Product | null>(async (ids) => {
    const rows = await prisma.product.findMany({ where: { id: { in: [...ids] } } });
    for (const row of rows) productBySku.prime(row.sku, row);
    return inKeyOrder(ids, rows, (row) => row.id);
  });
  const productBySku: DataLoader<string, Product | null> = new DataLoader(async (skus) => {
    const rows = await prisma.product.findMany({ where: { sku: { in: [...skus] } } });
    for (const row of rows) productById.prime(row.id, row);
    return inKeyOrder(skus, rows, (row) => row.sku);
  });
  return {
    productById,
    productBySku,
    categoryById: new DataLoader(async (ids) =>
      inKeyOrder(ids, await prisma.category.findMany({ where: { id: { in: [...ids] } } }), (row) => row.id),
    ),
    childrenByCategoryId: new DataLoader(async (ids) =>
      groupedInKeyOrder(
        ids,
        await prisma.category.findMany({ where: { parentId: { in: [...ids] } }, orderBy: { name: "asc" } }),
        (row) => row.parentId!,
      ),
    ),
    reviewById: new DataLoader(async (ids) =>
      inKeyOrder(ids, await prisma.review.findMany({ where: { id: { in: [...ids] } } }), (row) => row.id),
    ),
    reviewPage: new DataLoader((keys) => reviewPages(db, keys), { cacheKeyFn: reviewPageKey }),
    // Asked for by every product of a listing: one statement straight to the driver, past Prisma.
    reviewSummary: new DataLoader(async (productIds) => {
      const rows = await db.read<{ productId: string; count: number; average: number | null }>(
        `SELECT r.product_id::text AS "productId", ${REVIEW_SUMMARY_COLUMNS}
         FROM reviews r WHERE r.product_id = ANY($1::uuid[]) AND ${VISIBLE_REVIEW} GROUP BY r.product_id`,
        [[...productIds]],
      );
      const byId = new Map(rows.map((row) => [row.productId, row]));
      return productIds.map((id) => reviewSummaryOf(byId.get(id)?.count, byId.get(id)?.average));
    }),
  };
}
