import { isUuid } from "@catalog/common";
import type { Context } from "../context.ts";
import type { Product as ProductRow } from "../prisma.ts";
import { reviewConnection, reviewPageArgs } from "../review-pages.ts";
import { normalizeSku } from "../validation.ts";

type Reference = { id?: unknown; sku?: unknown };

export const Product = {
  // Other subgraphs send { id } or { sku }; malformed keys resolve to null instead of failing the batch.
  __resolveReference(reference: Reference, ctx: Context): Promise<ProductRow | null> | null {
    if (isUuid(reference.id)) return ctx.loaders.productById.load(reference.id.toLowerCase());
    const sku = typeof reference.sku === "string" ? normalizeSku(reference.sku) : undefined;
    return sku ? ctx.loaders.productBySku.load(sku) : null;
  },
  price(product: ProductRow) {
    return { amount: product.priceAmount.toFixed(2), currency: product.currency };
  },
  category(product: ProductRow, _: unknown, ctx: Context) {
    return ctx.loaders.categoryById.load(product.categoryId);
  },
  async reviews(product: ProductRow, args: { first?: number | null; after?: string | null }, ctx: Context) {
    const key = reviewPageArgs(product.id, args);
    return {
      ...reviewConnection(await ctx.loaders.reviewPage.load(key), key.first),
      // The visible reviews reviewSummary counts: the same batched statement, asked once per page of products.
      totalCount: async () => (await ctx.loaders.reviewSummary.load(product.id)).count,
    };
  },
  reviewSummary(product: ProductRow, _: unknown, ctx: Context) {
    return ctx.loaders.reviewSummary.load(product.id);
  },
};
