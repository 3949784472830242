import { isUuid, parseFirst, required } from "@catalog/common";
import type { Product as ProductRow } from "../prisma.ts";
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
  reviews(product, args, ctx) {
    const first = parseFirst(args.first ?? 10);
    return ctx.loaders.recentReviews.load({ parentId: product.id, limit: first });
  },
  reviewSummary(product, _, ctx) {
    return ctx.loaders.reviewSummary.load(product.id);
  },
};
