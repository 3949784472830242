import type { Database } from "@catalog/common";

/** Root fields whose answers list products: a product that appears, leaves or moves changes them. */
export const PRODUCT_LISTS = ["Query.products", "Query.productBySku"];

/**
 * The root fields whose answers may count or filter by availability: listings, and categories
 * (whose `products` may). Purged when a product comes into or goes out of stock. A
 * `Category.products` reached through a product's category waits out its 30 s cache instead:
 * purging every category entity would empty product pages too.
 */
export const AVAILABILITY_LISTS = ["Query.products", "Query.category", "Query.categories"];

/**
 * What to purge when products change in a way listings show (created, moved, priced, in or out of
 * stock): the root listings, the products themselves, and every category at or above theirs,
 * whose `Category.products` may list them however the response reached the category.
 */
export async function listingTags(db: Database, productIds: readonly string[]): Promise<string[]> {
  if (productIds.length === 0) return [];
  const categories = await db.query<{ id: string }>(
    `SELECT DISTINCT a.id::text AS id
     FROM products p JOIN categories c ON c.id = p.category_id JOIN categories a ON starts_with(c.path, a.path)
     WHERE p.id = ANY($1::uuid[])`,
    [productIds],
  );
  return [...PRODUCT_LISTS, ...productIds.map((id) => `Product:${id}`), ...categories.map((row) => `Category:${row.id}`)];
}
