import { decodeTimeCursor, isUuid, parseFirst, parseId, timeConnection } from "@catalog/common";
import { findCart, myCart } from "../carts.ts";
import { purchasedProducts } from "../purchases.ts";
import { visibleOrder } from "./Order.ts";
import type { QueryResolvers } from "../generated/graphql.ts";

const ADMIN_CURSOR = "orders:all";


export const Query: QueryResolvers = {
  order(_, args, ctx) {
    return visibleOrder(parseId(args.id), ctx);
  },
  cart(_, args, ctx) {
    return isUuid(args.id) ? findCart(ctx.selling, ctx.viewer, args.id.toLowerCase()) : null;
  },
  myCart(_, __, ctx) {
    return ctx.viewer ? myCart(ctx.selling, ctx.viewer) : null;
  },
  /** Services only (@requiresScopes purchases:read, @inaccessible). */
  purchasedProducts(_, args, ctx) {
    return purchasedProducts(ctx.prisma, args);
  },
  /** Admins (@requiresScopes orders:read): keyset pagination, newest first. */
  async orders(_, args, ctx) {
    const first = parseFirst(args.first);
    const filter = args.filter ?? {};
    const after = decodeTimeCursor(args.after, ADMIN_CURSOR);
    const where = {
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.userId ? { userId: parseId(filter.userId, "filter.userId") } : {}),
      ...(filter.createdAfter || filter.createdBefore
        ? { createdAt: { ...(filter.createdAfter ? { gte: filter.createdAfter } : {}), ...(filter.createdBefore ? { lt: filter.createdBefore } : {}) } }
        : {}),
    };
    const rows = await ctx.prisma.order.findMany({
      where: after
        ? { AND: [where, { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] }] }
        : where,
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: first + 1,
    });
    for (const row of rows) ctx.loaders.orderById.prime(row.id, row);
    return {
      ...timeConnection(rows, first, ADMIN_CURSOR),
      totalCount: () => ctx.prisma.order.count({ where }),
    };
  },
};
