import { isUuid } from "@catalog/common";
import { productConnection } from "../search/listing.ts";
import type { CategoryResolvers } from "../generated/graphql.ts";

export const Category: CategoryResolvers = {
  __resolveReference(reference, ctx) {
    return isUuid(reference.id) ? ctx.loaders.categoryById.load(reference.id.toLowerCase()) : null;
  },
  parent(category, _, ctx) {
    return category.parentId ? ctx.loaders.categoryById.load(category.parentId) : null;
  },
  children(category, _, ctx) {
    return ctx.loaders.childrenByCategoryId.load(category.id);
  },
  products(category, args, ctx, info) {
    return productConnection(args, ctx, info, category.id);
  },
};
