import { badUserInput, parseId } from "@catalog/common";
import { productConnection } from "../search/listing.ts";
import { normalizeSku } from "../validation.ts";
import type { QueryResolvers } from "../generated/graphql.ts";

export const Query: QueryResolvers = {
  product(_, args, ctx) {
    return ctx.loaders.productById.load(parseId(args.id));
  },

  productBySku(_, args, ctx) {
    const sku = normalizeSku(args.sku);
    if (!sku) throw badUserInput("Argument \"sku\" must be 1 to 64 characters.", "sku");
    return ctx.loaders.productBySku.load(sku);
  },

  products(_, args, ctx, info) {
    return productConnection(args, ctx, info);
  },

  categories(_, __, ctx) {
    return ctx.prisma.category.findMany({ where: { parentId: null }, orderBy: { name: "asc" } });
  },

  category(_, args, ctx) {
    return ctx.loaders.categoryById.load(parseId(args.id));
  },
};
