import { badUserInput, notFound, parseId, requireViewer, WRITE_TRANSACTION } from "@catalog/common";
import type { Context } from "../context.ts";
import { addCartLines, attachCart, cartForCheckout, createCart, removeCartLines, updateCartLines } from "../carts.ts";
import { payOrder } from "../payment.ts";
import { placeOrder } from "../placement.ts";
import { purgeOrder } from "../services.ts";
import { settleOrder } from "../settle.ts";
import { actorFor, transition } from "../workflow.ts";
import type { OrderStatus } from "../prisma.ts";
import type { MutationResolvers } from "../generated/graphql.ts";

/** Moves an order along the workflow as the caller, then makes the calls it owes right away. */
async function move(ctx: Context, orderIdArg: string, to: OrderStatus, reason: string | null) {
  const viewer = requireViewer(ctx.viewer);
  const orderId = parseId(orderIdArg, "orderId");
  if (reason && reason.length > 200) throw badUserInput("reason must be at most 200 characters.", "reason");
  const order = await ctx.prisma.order.findUnique({ where: { id: orderId } });
  const actor = order ? actorFor(viewer, order) : null;
  // Someone else's order is answered like one that does not exist.
  if (!order || !actor) throw notFound(`No order has id ${orderId}.`);
  const { selling } = ctx;
  await selling.prisma.$transaction((tx) => transition(tx, selling.jobs, orderId, to, actor, reason?.trim() || null), WRITE_TRANSACTION);
  // The job enqueued with the change would do this too; doing it now lets the answer show it.
  await settleOrder(selling, orderId, "inline").catch((error: unknown) => {
    ctx.logger.warn({ err: error, orderId }, "settling the order failed; its job will retry");
  });
  await purgeOrder(selling, order);
  return ctx.prisma.order.findUniqueOrThrow({ where: { id: orderId } });
}

export const Mutation: MutationResolvers = {
  createCart(_, args, ctx) {
    return createCart(ctx.selling, ctx.viewer, ctx.identity, args.lines ?? []);
  },
  addCartLines(_, args, ctx) {
    return addCartLines(ctx.selling, ctx.viewer, ctx.identity, args.cartId, args.lines);
  },
  updateCartLines(_, args, ctx) {
    return updateCartLines(ctx.selling, ctx.viewer, args.cartId, args.lines);
  },
  removeCartLines(_, args, ctx) {
    return removeCartLines(ctx.selling, ctx.viewer, args.cartId, args.productIds);
  },
  attachCart(_, args, ctx) {
    return attachCart(ctx.selling, requireViewer(ctx.viewer), parseId(args.cartId, "cartId"));
  },
  async checkout(_, args, ctx) {
    const viewer = requireViewer(ctx.viewer);
    const cartId = parseId(args.cartId, "cartId");
    return placeOrder(ctx.selling, viewer, ctx.identity, {
      cartId,
      shippingAddress: args.shippingAddress,
      idempotencyKey: args.idempotencyKey,
      lines: async () => (await cartForCheckout(ctx.selling, viewer, cartId)).lines.map(({ productId, quantity }) => ({ productId, quantity })),
    });
  },
  placeOrder(_, args, ctx) {
    return placeOrder(ctx.selling, requireViewer(ctx.viewer), ctx.identity, {
      cartId: null,
      shippingAddress: args.shippingAddress,
      idempotencyKey: args.idempotencyKey,
      lines: args.lines.map((line) => ({ productId: parseId(line.productId, "productId"), quantity: line.quantity })),
    });
  },
  payOrder(_, args, ctx) {
    return payOrder(ctx.selling, requireViewer(ctx.viewer), parseId(args.orderId, "orderId"), args.payment);
  },
  cancelOrder(_, args, ctx) {
    return move(ctx, args.orderId, "CANCELLED", args.reason ?? null);
  },
  shipOrder(_, args, ctx) {
    return move(ctx, args.orderId, "SHIPPED", null);
  },
  deliverOrder(_, args, ctx) {
    return move(ctx, args.orderId, "DELIVERED", null);
  },
};
