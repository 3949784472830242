import { badUserInput, ErrorCode, notFound, parseId, WRITE_TRANSACTION } from "@catalog/common";
import { GraphQLError } from "graphql";
import type { MutationResolvers } from "../generated/graphql.ts";

const MAX_DELTA = 100_000;
/** Far below the 32-bit column limit, so no sum of accepted deltas can overflow it. */
export const MAX_ON_HAND = 1_000_000_000;

function insufficient(requested: number, available: number): GraphQLError {
  return new GraphQLError(`Cannot remove ${requested} units: only ${available} are available.`, {
    extensions: { code: ErrorCode.INSUFFICIENT_STOCK, field: "delta" },
  });
}

export const Mutation: MutationResolvers = {
  async adjustStock(_, args, ctx) {
    const productId = parseId(args.productId, "productId");
    const { delta } = args;
    if (!Number.isInteger(delta) || delta === 0 || Math.abs(delta) > MAX_DELTA) {
      throw badUserInput(`delta must be a non-zero whole number between -${MAX_DELTA} and ${MAX_DELTA}.`, "delta");
    }
    const note = args.note?.trim() || null;
    if (note && note.length > 500) throw badUserInput("note must be at most 500 characters.", "note");

    // Stock for a product this subgraph has never seen: make sure the product exists first.
    const known = await ctx.prisma.stockItem.findUnique({ where: { productId }, select: { productId: true } });
    if (!known && !(await ctx.products.exists(productId))) {
      throw notFound(`No product has id ${productId}.`);
    }

    await ctx.prisma.$transaction(async (tx) => {
      // Each branch is one statement that reads, checks and writes the level, so concurrent
      // adjustments can neither both pass a check against the same old value nor lose an update.
      const rows =
        delta > 0
          ? await tx.$queryRaw<{ on_hand: number }[]>`
              INSERT INTO stock_items (product_id, on_hand, reserved, updated_at)
              VALUES (${productId}::uuid, ${delta}, 0, now())
              ON CONFLICT (product_id) DO UPDATE
                SET on_hand = stock_items.on_hand + EXCLUDED.on_hand, updated_at = now()
                WHERE stock_items.on_hand::bigint + EXCLUDED.on_hand <= ${MAX_ON_HAND}
              RETURNING on_hand`
          : await tx.$queryRaw<{ on_hand: number }[]>`
              UPDATE stock_items SET on_hand = on_hand + ${delta}, updated_at = now()
              WHERE product_id = ${productId}::uuid AND on_hand + ${delta} >= reserved
              RETURNING on_hand`;
      const onHandAfter = rows[0]?.on_hand;
      if (onHandAfter === undefined) {
        if (delta > 0) throw badUserInput(`Stock on hand cannot exceed ${MAX_ON_HAND} units.`, "delta");
        const current = await tx.stockItem.findUnique({ where: { productId } });
        throw insufficient(-delta, Math.max(0, (current?.onHand ?? 0) - (current?.reserved ?? 0)));
      }
      await tx.stockMovement.create({ data: { productId, delta, reason: args.reason, note, onHandAfter } });
    }, WRITE_TRANSACTION);
    ctx.loaders.stockByProductId.clear(productId);
    // Every cached response showing this product (its stock, inStock, anything) is purged now.
    await ctx.cache.invalidate([`Product:${productId}`]);
    return { id: productId };
  },
};
