import { isUuid } from "@catalog/common";
import type { Context } from "../context.ts";
import { mayReadOrdersOf } from "../policies.ts";
import type { Order as OrderRow, OrderItem as OrderItemRow, OrderTransition as TransitionRow, Payment as PaymentRow } from "../prisma.ts";

/**
 * Someone else's order is answered exactly like a missing one (null, no error), so ids cannot be
 * probed for existence. Every way to an order by id (Query.order, _entities) goes through here.
 */
export async function visibleOrder(id: string, ctx: Context): Promise<OrderRow | null> {
  const order = await ctx.loaders.orderById.load(id);
  return order && mayReadOrdersOf(ctx.viewer, order.userId) ? order : null;
}

export const Order = {
  __resolveReference(reference: { id?: unknown }, ctx: Context) {
    return isUuid(reference.id) ? visibleOrder(reference.id.toLowerCase(), ctx) : null;
  },
  user(order: OrderRow) {
    return order.placedByPartner ? null : { __typename: "User", id: order.userId };
  },
  items(order: OrderRow, _: unknown, ctx: Context) {
    return ctx.loaders.itemsByOrderId.load(order.id);
  },
  async itemCount(order: OrderRow, _: unknown, ctx: Context) {
    const items = await ctx.loaders.itemsByOrderId.load(order.id);
    return items.reduce((sum, item) => sum + item.quantity, 0);
  },
  total(order: OrderRow) {
    return { amount: order.totalAmount.toFixed(2), currency: order.currency };
  },
  paymentDueAt(order: OrderRow) {
    return order.status === "PENDING" ? order.paymentDueAt : null;
  },
  stockStatus(order: OrderRow) {
    return order.stockState;
  },
  async payment(order: OrderRow, _: unknown, ctx: Context) {
    return (await ctx.loaders.paymentsByOrderId.load(order.id)).at(-1) ?? null;
  },
  payments(order: OrderRow, _: unknown, ctx: Context) {
    return ctx.loaders.paymentsByOrderId.load(order.id);
  },
  history(order: OrderRow, _: unknown, ctx: Context) {
    return ctx.loaders.transitionsByOrderId.load(order.id);
  },
  shippingAddress(order: OrderRow) {
    return {
      name: order.shipName,
      line1: order.shipLine1,
      line2: order.shipLine2,
      city: order.shipCity,
      region: order.shipRegion,
      postalCode: order.shipPostalCode,
      country: order.shipCountry,
    };
  },
};

/** Lines are priced in their order's currency; the order is loaded again only from the per-request cache. */
export const OrderItem = {
  product(item: OrderItemRow) {
    return { __typename: "Product", id: item.productId };
  },
  async unitPrice(item: OrderItemRow, _: unknown, ctx: Context) {
    const order = await ctx.loaders.orderById.load(item.orderId);
    return { amount: item.unitPrice.toFixed(2), currency: order?.currency ?? "USD" };
  },
  async lineTotal(item: OrderItemRow, _: unknown, ctx: Context) {
    const order = await ctx.loaders.orderById.load(item.orderId);
    return { amount: item.unitPrice.mul(item.quantity).toFixed(2), currency: order?.currency ?? "USD" };
  },
};

export const OrderTransition = {
  from: (row: TransitionRow) => row.fromStatus,
  to: (row: TransitionRow) => row.toStatus,
  actor: (row: TransitionRow) => row.actorKind,
  at: (row: TransitionRow) => row.createdAt,
};

export const Payment = {
  amount: (row: PaymentRow) => ({ amount: row.amount.toFixed(2), currency: row.currency }),
};
