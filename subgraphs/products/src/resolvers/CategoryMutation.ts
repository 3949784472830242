import { createCategory, deleteCategory, moveCategory, updateCategory } from "../category-admin.ts";
import type { MutationResolvers } from "../generated/graphql.ts";

/** Category tree administration (category-admin.ts), scope catalog:write. */
export const CategoryMutation: MutationResolvers = {
  createCategory(_, args, ctx) {
    return createCategory(ctx, args.input);
  },
  updateCategory(_, args, ctx) {
    return updateCategory(ctx, args.id, args.input);
  },
  moveCategory(_, args, ctx) {
    return moveCategory(ctx, args.id, args.parentId);
  },
  deleteCategory(_, args, ctx) {
    return deleteCategory(ctx, args.id, args.moveProductsTo);
  },
};
