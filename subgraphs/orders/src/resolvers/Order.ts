import { isUuid } from "@catalog/common";
import type { Context } from "../context.ts";
import { mayReadOrdersOf } from "../policies.ts";
import type { Order as OrderRow } from "../prisma.ts";
import type { OrderResolvers, OrderItemResolvers, OrderTransitionResolvers, PaymentResolvers } from "../generated/graphql.ts";

/**
 * Someone else's order is answered exactly like a missing one (null, no error), so ids cannot be
 * probed for existence. Every way to an order by id (Query.order, _entities) goes through here.
 */
export async function visibleOrder(id: string, ctx: Context): Promise<OrderRow | null> {
  const order = await ctx.loaders.orderById.load(id);
  return order && mayReadOrdersOf(ctx.viewer, order.userId) ? order : null;
}

export const Order: OrderResolvers = {
  __resolveReference(reference, ctx) {
    return isUuid(reference.id) ? visibleOrder(reference.id.toLowerCase(), ctx) : null;
  },
  user(order) {
    return order.placedByPartner ? null : { __typename: "User", id: order.userId };
  },
  items(order, _, ctx) {
    return ctx.loaders.itemsByOrderId.load(order.id);
  },
  async itemCount(order, _, ctx) {
    const items = await ctx.loaders.itemsByOrderId.load(order.id);
    return items.reduce((sum, item) => sum + item.quantity, 0);
  },
  total(order) {
    return { amount: order.totalAmount.toFixed(2), currency: order.currency };
  },
  paymentDueAt(order) {
    return order.status === "PENDING" ? order.paymentDueAt : null;
  },
  stockStatus(order) {
    return order.stockState;
  },
  async payment(order, _, ctx) {
    return (await ctx.loaders.paymentsByOrderId.load(order.id)).at(-1) ?? null;
  },
  payments(order, _, ctx) {
    return ctx.loaders.paymentsByOrderId.load(order.id);
  },
  history(order, _, ctx) {
    return ctx.loaders.transitionsByOrderId.load(order.id);
  },
  shippingAddress(order) {
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
export const OrderItem: OrderItemResolvers = {
  product(item) {
    return { __typename: "Product", id: item.productId };
  },
  async unitPrice(item, _, ctx) {
    const order = await ctx.loaders.orderById.load(item.orderId);
    return { amount: item.unitPrice.toFixed(2), currency: order?.currency ?? "USD" };
  },
  async lineTotal(item, _, ctx) {
    const order = await ctx.loaders.orderById.load(item.orderId);
    return { amount: item.unitPrice.mul(item.quantity).toFixed(2), currency: order?.currency ?? "USD" };
  },
};

export const OrderTransition: OrderTransitionResolvers = {
  from: (row) => row.fromStatus,
  to: (row) => row.toStatus,
  actor: (row) => row.actorKind,
  at: (row) => row.createdAt,
};

export const Payment: PaymentResolvers = {
  amount: (row) => ({ amount: row.amount.toFixed(2), currency: row.currency }),
};
