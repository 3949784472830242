import { badUserInput, decodeTimeCursor, escapeLike, parseFirst, parseId, timeConnection } from "@catalog/common";
import type { Prisma } from "../generated/prisma/client.ts";
import type { User } from "../prisma.ts";
import type { QueryResolvers } from "../generated/graphql.ts";


const CURSOR_KIND = "users:createdAt";

export const Query: QueryResolvers = {
  partners: (_, _args, ctx) => ctx.partners.list(),

  async me(_, _args, ctx): Promise<User | null> {
    if (!ctx.viewer) return null;
    const user = await ctx.loaders.userById.load(ctx.viewer.userId);
    return user && user.status !== "DELETED" ? user : null;
  },

  async user(_, args, ctx): Promise<User | null> {
    const user = await ctx.loaders.userById.load(parseId(args.id));
    return user && user.status !== "DELETED" ? user : null;
  },

  async users(_, args, ctx) {
    const first = parseFirst(args.first);
    const search = args.filter?.search?.trim();
    const pattern = search ? escapeLike(search) : undefined;
    if (search !== undefined && search.length > 100) {
      throw badUserInput("filter.search must be at most 100 characters.", "filter.search");
    }
    const where: Prisma.UserWhereInput = {
      status: args.filter?.status ?? { not: "DELETED" },
      ...(args.filter?.role ? { roles: { has: args.filter.role } } : {}),
      ...(pattern
        ? {
            OR: [
              { email: { contains: pattern, mode: "insensitive" } },
              { firstName: { contains: pattern, mode: "insensitive" } },
              { lastName: { contains: pattern, mode: "insensitive" } },
            ],
          }
        : {}),
    };
    const after = decodeTimeCursor(args.after, CURSOR_KIND);
    const keyset: Prisma.UserWhereInput | undefined = after && { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] };
    const rows = await ctx.prisma.user.findMany({
      where: keyset ? { AND: [where, keyset] } : where,
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: first + 1,
    });
    for (const row of rows) ctx.loaders.userById.prime(row.id, row);
    return {
      ...timeConnection(rows, first, CURSOR_KIND),
      totalCount: () => ctx.prisma.user.count({ where }),
    };
  },
};
