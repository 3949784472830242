import type { Context } from "../context.ts";

export const Mutation = {
  createPartner: (_: unknown, args: { input: unknown }, ctx: Context) => ctx.partners.create(args.input),
  updatePartner: (_: unknown, args: { slug: string; input: unknown }, ctx: Context) => ctx.partners.update(args.slug, args.input),
  issueApiKey: (_: unknown, args: { slug: string }, ctx: Context) => ctx.partners.issueKey(args.slug),
  revokeApiKey: (_: unknown, args: { id: string }, ctx: Context) => ctx.partners.revokeKey(args.id),
  register: (_: unknown, args: { input: unknown }, ctx: Context) => ctx.auth.register(args.input),
  login: (_: unknown, args: { email: string; password: string }, ctx: Context) => ctx.auth.login(args.email, args.password),
  refreshToken: (_: unknown, args: { refreshToken: string }, ctx: Context) => ctx.auth.refresh(args.refreshToken),
  logout: (_: unknown, args: { refreshToken: string }, ctx: Context) => ctx.auth.logout(args.refreshToken),
};
