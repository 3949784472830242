import DataLoader from "dataloader";
import type { Category, Product, ProductsPrisma, Review } from "./prisma.ts";

export interface ReviewSummaryRow {
  count: number;
  averageRating: number | null;
}

export interface Loaders {
  productById: DataLoader<string, Product | null>;
  productBySku: DataLoader<string, Product | null>;
  categoryById: DataLoader<string, Category | null>;
  childrenByCategoryId: DataLoader<string, Category[]>;
  reviewById: DataLoader<string, Review | null>;
  /** Keyed by `${productId}:${limit}`: the newest `limit` reviews of each product. */
  recentReviews: DataLoader<string, Review[]>;
  reviewSummary: DataLoader<string, ReviewSummaryRow>;
}

function inKeyOrder<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): (V | null)[] {
  const byKey = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => byKey.get(key) ?? null);
}

function grouped<V>(keys: readonly string[], rows: V[], keyOf: (row: V) => string): V[][] {
  const groups = new Map<string, V[]>(keys.map((key) => [key, []]));
  for (const row of rows) groups.get(keyOf(row))?.push(row);
  return keys.map((key) => groups.get(key) ?? []);
}

/** Per request. Each loader turns one tick's worth of lookups into one SQL statement. */
export function createLoaders(prisma: ProductsPrisma): Loaders {
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
      grouped(
        ids,
        await prisma.category.findMany({ where: { parentId: { in: [...ids] } }, orderBy: { name: "asc" } }),
        (row) => row.parentId!,
      ),
    ),
    reviewById: new DataLoader(async (ids) =>
      inKeyOrder(ids, await prisma.review.findMany({ where: { id: { in: [...ids] } } }), (row) => row.id),
    ),
    recentReviews: new DataLoader(async (keys) => {
      // Keys share one limit per field selection; group by limit so each limit is one statement.
      const byLimit = new Map<number, string[]>();
      for (const key of keys) {
        const [productId, limit] = key.split(":") as [string, string];
        byLimit.set(Number(limit), [...(byLimit.get(Number(limit)) ?? []), productId]);
      }
      const result = new Map<string, Review[]>();
      for (const [limit, productIds] of byLimit) {
        // Top-N per product in one statement: a window function, which Prisma's API cannot express.
        const rows = await prisma.$queryRaw<{ id: string }[]>`
          SELECT id FROM (
            SELECT id, row_number() OVER (PARTITION BY product_id ORDER BY created_at DESC, id DESC) AS n
            FROM reviews WHERE product_id = ANY(${productIds}::uuid[])
          ) ranked WHERE n <= ${limit}`;
        const reviews = rows.length
          ? await prisma.review.findMany({
              where: { id: { in: rows.map((row) => row.id) } },
              orderBy: [{ createdAt: "desc" }, { id: "desc" }],
            })
          : [];
        for (const productId of productIds) result.set(`${productId}:${limit}`, []);
        for (const review of reviews) result.get(`${review.productId}:${limit}`)?.push(review);
      }
      return keys.map((key) => result.get(key) ?? []);
    }),
    reviewSummary: new DataLoader(async (productIds) => {
      const rows = await prisma.review.groupBy({
        by: ["productId"],
        where: { productId: { in: [...productIds] } },
        _count: { _all: true },
        _avg: { rating: true },
      });
      const byId = new Map(rows.map((row) => [row.productId, row]));
      return productIds.map((id) => {
        const row = byId.get(id);
        return {
          count: row?._count._all ?? 0,
          averageRating: row?._avg.rating == null ? null : Math.round(Number(row._avg.rating) * 100) / 100,
        };
      });
    }),
  };
}
