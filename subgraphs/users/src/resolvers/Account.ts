import { requireViewer } from "@catalog/common";
import type { MutationResolvers } from "../generated/graphql.ts";

/** Accounts: a customer's own profile and password, password resets, and admins' user management (account.ts). */
export const AccountMutation: MutationResolvers = {
  updateMe: (_, args, ctx) => ctx.accounts.updateMe(requireViewer(ctx.viewer), args.input),
  changePassword: (_, args, ctx) => ctx.accounts.changePassword(requireViewer(ctx.viewer), args.currentPassword, args.newPassword),
  requestPasswordReset: (_, args, ctx) => ctx.accounts.requestPasswordReset(args.email),
  resetPassword: (_, args, ctx) => ctx.accounts.resetPassword(args.token, args.newPassword),
  setUserStatus: (_, args, ctx) => ctx.accounts.setUserStatus(requireViewer(ctx.viewer), args.id, args.status),
  setUserRoles: (_, args, ctx) => ctx.accounts.setUserRoles(requireViewer(ctx.viewer), args.id, args.roles),
};
