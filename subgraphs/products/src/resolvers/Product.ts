import { isUuid, required } from "@catalog/common";
import type { Product as ProductRow } from "../prisma.ts";
import { reviewConnection, reviewPageArgs } from "../review-pages.ts";
import { normalizeSku } from "../validation.ts";
import type { ProductResolvers } from "../generated/graphql.ts";

type Reference = { id?: unknown; sku?: unknown };

export const Product: ProductResolvers = {
  // Other subgraphs send { id } or { sku }; malformed keys resolve to null instead of failing the batch.
  __resolveReference(reference: Reference, ctx): Promise<ProductRow | null> | null {
    if (isUuid(reference.id)) return ctx.loaders.productById.load(reference.id.toLowerCase());
    const sku = typeof reference.sku === "string" ? normalizeSku(reference.sku) : undefined;
    return sku ? ctx.loaders.productBySku.load(sku) : null;
  },
  price(product) {
    return { amount: product.priceAmount.toFixed(2), currency: product.currency };
  },
  category(product, _, ctx) {
    return required(ctx.loaders.categoryById.load(product.categoryId), `category ${product.categoryId} of product ${product.id}`);
  },
  async reviews(product, args, ctx) {
    const key = reviewPageArgs(product.id, args);
    return {
      ...reviewConnection(await ctx.loaders.reviewPage.load(key), key.first),
      // The visible reviews reviewSummary counts: the same batched statement, asked once per page of products.
      totalCount: async () => (await ctx.loaders.reviewSummary.load(product.id)).count,
    };
  },
  reviewSummary(product, _, ctx) {
    return ctx.loaders.reviewSummary.load(product.id);
  },
};
