import { badUserInput, parseId } from "@catalog/common";
import { GraphQLError } from "graphql";
import type { Context } from "../context.ts";
import type { StockMovementReason } from "../prisma.ts";

const MAX_DELTA = 100_000;

export const Mutation = {
  async adjustStock(
    _: unknown,
    args: { productId: string; delta: number; reason: StockMovementReason; note?: string | null },
    ctx: Context,
  ) {
    const productId = parseId(args.productId, "productId");
    if (!Number.isInteger(args.delta) || args.delta === 0 || Math.abs(args.delta) > MAX_DELTA) {
      throw badUserInput(`delta must be a non-zero whole number between -${MAX_DELTA} and ${MAX_DELTA}.`, "delta");
    }
    const note = args.note?.trim() || null;
    if (note && note.length > 500) throw badUserInput("note must be at most 500 characters.", "note");

    await ctx.prisma.$transaction(async (tx) => {
      // One conditional statement reads, checks and writes the level, so two concurrent adjustments
      // can never both pass the check against the same old value (no lost update, no negative stock).
      const updated = await tx.$queryRaw<{ on_hand: number }[]>`
        UPDATE stock_items SET on_hand = on_hand + ${args.delta}, updated_at = now()
        WHERE product_id = ${productId}::uuid AND on_hand + ${args.delta} >= reserved
        RETURNING on_hand`;
      let onHandAfter = updated[0]?.on_hand;
      if (onHandAfter === undefined) {
        const existing = await tx.stockItem.findUnique({ where: { productId } });
        if (existing || args.delta < 0) {
          throw new GraphQLError(
            `Cannot remove ${-args.delta} units: only ${Math.max(0, (existing?.onHand ?? 0) - (existing?.reserved ?? 0))} are available.`,
            { extensions: { code: "INSUFFICIENT_STOCK", field: "delta" } },
          );
        }
        // First stock for a product this subgraph has not tracked yet.
        const created = await tx.stockItem.create({ data: { productId, onHand: args.delta } });
        onHandAfter = created.onHand;
      }
      await tx.stockMovement.create({
        data: { productId, delta: args.delta, reason: args.reason, note, onHandAfter },
      });
    });
    ctx.loaders.stockByProductId.clear(productId);
    return { id: productId };
  },
};
