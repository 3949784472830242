import { parseId } from "@catalog/common";
import type { Context } from "../context.ts";
import { stockChanges } from "../stock-feed.ts";
import { commitStock, releaseStock, reservationOf, reserveStock, type StockLine } from "../reservations.ts";

/** Every product whose stock moved is purged from cached responses before the call answers. */
async function purge(ctx: Context, lines: readonly StockLine[]) {
  for (const line of lines) ctx.loaders.stockByProductId.clear(line.productId);
  await ctx.cache.invalidate(lines.map((line) => `Product:${line.productId}`));
}

export const ReservationMutations = {
  async reserveStock(_: unknown, args: { orderId: string; lines: { productId: string; quantity: number }[] }, ctx: Context) {
    const orderId = parseId(args.orderId, "orderId");
    const lines = args.lines.map((line) => ({ productId: parseId(line.productId, "productId"), quantity: line.quantity }));
    const outcome = await reserveStock(ctx.prisma, orderId, lines);
    if (!outcome.ok) return { ok: false, reservation: null, shortages: outcome.shortages };
    await purge(ctx, outcome.reservation.lines);
    return { ok: true, reservation: outcome.reservation, shortages: [] };
  },
  async releaseStock(_: unknown, args: { orderId: string; reason: string }, ctx: Context) {
    const reservation = await releaseStock(ctx.prisma, parseId(args.orderId, "orderId"), args.reason);
    await purge(ctx, reservation.lines);
    return reservation;
  },
  async commitStock(_: unknown, args: { orderId: string }, ctx: Context) {
    const reservation = await commitStock(ctx.prisma, parseId(args.orderId, "orderId"));
    await purge(ctx, reservation.lines);
    return reservation;
  },
};

export const ReservationQueries = {
  reservation(_: unknown, args: { orderId: string }, ctx: Context) {
    return reservationOf(ctx.prisma, parseId(args.orderId, "orderId"));
  },
  stockChanges(_: unknown, args: { after?: string | null; first?: number | null }, ctx: Context) {
    return stockChanges(ctx.db, args.after, args.first);
  },
};
