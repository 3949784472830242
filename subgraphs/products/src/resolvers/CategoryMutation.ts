import { deleteCategory, moveCategory, updateCategory } from "../category-admin.ts";
import type { Context } from "../context.ts";

/** Category tree administration (category-admin.ts), scope catalog:write. */
export const CategoryMutation = {
  updateCategory(_: unknown, args: { id: string; input: unknown }, ctx: Context) {
    return updateCategory(ctx, args.id, args.input);
  },
  moveCategory(_: unknown, args: { id: string; parentId?: string | null }, ctx: Context) {
    return moveCategory(ctx, args.id, args.parentId);
  },
  deleteCategory(_: unknown, args: { id: string; moveProductsTo?: string | null }, ctx: Context) {
    return deleteCategory(ctx, args.id, args.moveProductsTo);
  },
};
