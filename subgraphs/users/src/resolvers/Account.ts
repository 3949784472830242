import { ErrorCode, type Viewer } from "@catalog/common";
import { GraphQLError } from "graphql";
import type { UpdateMeInput } from "../account.ts";
import type { Context } from "../context.ts";
import type { Role, UserStatus } from "../generated/prisma/enums.ts";

/** The schema's @authenticated / @requiresScopes ran first; this only narrows the type. */
function viewerOf(ctx: Context): Viewer {
  if (!ctx.viewer) throw new GraphQLError("Sign in first.", { extensions: { code: ErrorCode.UNAUTHENTICATED } });
  return ctx.viewer;
}

/** Accounts: a customer's own profile and password, password resets, and admins' user management (account.ts). */
export const AccountMutation = {
  updateMe: (_: unknown, args: { input: UpdateMeInput }, ctx: Context) => ctx.accounts.updateMe(viewerOf(ctx), args.input),
  changePassword: (_: unknown, args: { currentPassword: string; newPassword: string }, ctx: Context) =>
    ctx.accounts.changePassword(viewerOf(ctx), args.currentPassword, args.newPassword),
  requestPasswordReset: (_: unknown, args: { email: string }, ctx: Context) => ctx.accounts.requestPasswordReset(args.email),
  resetPassword: (_: unknown, args: { token: string; newPassword: string }, ctx: Context) =>
    ctx.accounts.resetPassword(args.token, args.newPassword),
  setUserStatus: (_: unknown, args: { id: string; status: UserStatus }, ctx: Context) =>
    ctx.accounts.setUserStatus(viewerOf(ctx), args.id, args.status),
  setUserRoles: (_: unknown, args: { id: string; roles: readonly Role[] }, ctx: Context) =>
    ctx.accounts.setUserRoles(viewerOf(ctx), args.id, args.roles),
};
