import { isUuid } from "@catalog/common";
import type { GraphQLResolveInfo } from "graphql";
import type { Context } from "../context.ts";
import { productConnection, type ProductsArgs } from "../search/listing.ts";
import type { Category as CategoryRow } from "../prisma.ts";

export const Category = {
  __resolveReference(reference: { id?: unknown }, ctx: Context) {
    return isUuid(reference.id) ? ctx.loaders.categoryById.load(reference.id.toLowerCase()) : null;
  },
  parent(category: CategoryRow, _: unknown, ctx: Context) {
    return category.parentId ? ctx.loaders.categoryById.load(category.parentId) : null;
  },
  children(category: CategoryRow, _: unknown, ctx: Context) {
    return ctx.loaders.childrenByCategoryId.load(category.id);
  },
  products(category: CategoryRow, args: ProductsArgs, ctx: Context, info: GraphQLResolveInfo) {
    return productConnection(args, ctx, info, category.id);
  },
};
