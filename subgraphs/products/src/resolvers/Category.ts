import { isUuid } from "@catalog/common";
import type { Context } from "../context.ts";
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
};
