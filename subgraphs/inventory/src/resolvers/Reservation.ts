import { parseId } from "@catalog/common";
import type { Context } from "../context.ts";
import { stockChanges } from "../stock-feed.ts";
import { commitStock, releaseStock, reservationOf, reserveStock, type StockLine } from "../reservations.ts";
import type { MutationResolvers, QueryResolvers } from "../generated/graphql.ts";

/** Every product whose stock moved is purged from cached responses before the call answers. */
async function purge(ctx: Context, lines: readonly StockLine[]) {
  for (const line of lines) ctx.loaders.stockByProductId.clear(line.productId);
  await ctx.cache.invalidate(lines.map((line) => `Product:${line.productId}`));
}

export const ReservationMutations: MutationResolvers = {
  async reserveStock(_, args, ctx) {
    const orderId = parseId(args.orderId, "orderId");
    const lines = args.lines.map((line) => ({ productId: parseId(line.productId, "productId"), quantity: line.quantity }));
    const outcome = await reserveStock(ctx.prisma, orderId, lines);
    if (!outcome.ok) return { ok: false, reservation: null, shortages: outcome.shortages };
    await purge(ctx, outcome.reservation.lines);
    return { ok: true, reservation: outcome.reservation, shortages: [] };
  },
  async releaseStock(_, args, ctx) {
    const reservation = await releaseStock(ctx.prisma, parseId(args.orderId, "orderId"), args.reason);
    await purge(ctx, reservation.lines);
    return reservation;
  },
  async commitStock(_, args, ctx) {
    const reservation = await commitStock(ctx.prisma, parseId(args.orderId, "orderId"));
    await purge(ctx, reservation.lines);
    return reservation;
  },
};

export const ReservationQueries: QueryResolvers = {
  reservation(_, args, ctx) {
    return reservationOf(ctx.prisma, parseId(args.orderId, "orderId"));
  },
  stockChanges(_, args, ctx) {
    return stockChanges(ctx.db, args.after, args.first);
  },
};
