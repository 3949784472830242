import { ErrorCode, type Viewer } from "@catalog/common";
import { GraphQLError } from "graphql";
import type { Context } from "../context.ts";
import type { MutationResolvers } from "../generated/graphql.ts";

/** The schema's @authenticated / @requiresScopes ran first; this only narrows the type. */
function viewerOf(ctx: Context): Viewer {
  if (!ctx.viewer) throw new GraphQLError("Sign in first.", { extensions: { code: ErrorCode.UNAUTHENTICATED } });
  return ctx.viewer;
}

/** Accounts: a customer's own profile and password, password resets, and admins' user management (account.ts). */
export const AccountMutation: MutationResolvers = {
  updateMe: (_, args, ctx) => ctx.accounts.updateMe(viewerOf(ctx), args.input),
  changePassword: (_, args, ctx) => ctx.accounts.changePassword(viewerOf(ctx), args.currentPassword, args.newPassword),
  requestPasswordReset: (_, args, ctx) => ctx.accounts.requestPasswordReset(args.email),
  resetPassword: (_, args, ctx) => ctx.accounts.resetPassword(args.token, args.newPassword),
  setUserStatus: (_, args, ctx) => ctx.accounts.setUserStatus(viewerOf(ctx), args.id, args.status),
  setUserRoles: (_, args, ctx) => ctx.accounts.setUserRoles(viewerOf(ctx), args.id, args.roles),
};
