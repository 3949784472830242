import { badUserInput, parseId } from "@catalog/common";
import type { GraphQLResolveInfo } from "graphql";
import type { Context } from "../context.ts";
import { productConnection, type ProductsArgs } from "../search/listing.ts";
import { normalizeSku } from "../validation.ts";

export const Query = {
  product(_: unknown, args: { id: string }, ctx: Context) {
    return ctx.loaders.productById.load(parseId(args.id));
  },

  productBySku(_: unknown, args: { sku: string }, ctx: Context) {
    const sku = normalizeSku(args.sku);
    if (!sku) throw badUserInput("Argument \"sku\" must be 1 to 64 characters.", "sku");
    return ctx.loaders.productBySku.load(sku);
  },

  products(_: unknown, args: ProductsArgs, ctx: Context, info: GraphQLResolveInfo) {
    return productConnection(args, ctx, info);
  },

  categories(_: unknown, __: unknown, ctx: Context) {
    return ctx.prisma.category.findMany({ where: { parentId: null }, orderBy: { name: "asc" } });
  },

  category(_: unknown, args: { id: string }, ctx: Context) {
    return ctx.loaders.categoryById.load(parseId(args.id));
  },
};
