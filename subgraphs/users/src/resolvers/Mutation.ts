import type { MutationResolvers } from "../generated/graphql.ts";

export const Mutation: MutationResolvers = {
  createPartner: (_, args, ctx) => ctx.partners.create(args.input),
  updatePartner: (_, args, ctx) => ctx.partners.update(args.slug, args.input),
  issueApiKey: (_, args, ctx) => ctx.partners.issueKey(args.slug),
  revokeApiKey: (_, args, ctx) => ctx.partners.revokeKey(args.id),
  register: (_, args, ctx) => ctx.auth.register(args.input),
  login: (_, args, ctx) => ctx.auth.login(args.email, args.password),
  refreshToken: (_, args, ctx) => ctx.auth.refresh(args.refreshToken),
  logout: (_, args, ctx) => ctx.auth.logout(args.refreshToken),
};
