import { coded, ErrorCode, hasScope, PARTNER_ROLE, type Viewer } from "@catalog/common";
import type { OrderStatus, StockState } from "./generated/prisma/enums.ts";
import { JOB, type JobQueue } from "./jobs.ts";
import type { Order, OrdersTransaction } from "./prisma.ts";

/**
 * The order status workflow, enforced here and nowhere else:
 *
 *   PENDING -> PROCESSING -> SHIPPED -> DELIVERED
 *      \            \
 *       +-----------+--> CANCELLED
 *
 * Each edge names who may take it. Every change is one transaction that locks the order, checks
 * the edge, writes the new status, records the transition (from, to, who, when, why) and, where
 * the change owes inventory or the payment provider a call, enqueues the job that makes it.
 */
/** PARTNER: the owner of the order is a partner (its orders, its API key) acting as its own customer. */
export type ActorKind = "CUSTOMER" | "PARTNER" | "ADMIN" | "SYSTEM";
export interface Actor {
  kind: ActorKind;
  userId: string | null;
}

export const SYSTEM: Actor = { kind: "SYSTEM", userId: null };

const EDGES: Record<OrderStatus, Partial<Record<OrderStatus, readonly ActorKind[]>>> = {
  // Only a captured payment moves an order to PROCESSING.
  PENDING: { PROCESSING: ["SYSTEM"], CANCELLED: ["CUSTOMER", "PARTNER", "ADMIN", "SYSTEM"] },
  // The system cancels only unpaid orders (declined, not paid in time); a paid one is a person's call.
  PROCESSING: { SHIPPED: ["ADMIN"], CANCELLED: ["CUSTOMER", "PARTNER", "ADMIN"] },
  SHIPPED: { DELIVERED: ["ADMIN"] },
  DELIVERED: {},
  CANCELLED: {},
};

/** What the stock hold must become when an order enters a status (null: unchanged). */
const STOCK_ON_ENTRY: Partial<Record<OrderStatus, StockState>> = { CANCELLED: "RELEASING", SHIPPED: "SELLING" };

/** The actor a signed-in caller acts as on someone's order: ADMIN needs `orders:write`. */
export function actorFor(viewer: Viewer, order: { userId: string }): Actor | null {
  if (hasScope(viewer, "orders:write")) return { kind: "ADMIN", userId: viewer.userId };
  if (viewer.userId === order.userId) return { kind: viewer.roles.includes(PARTNER_ROLE) ? "PARTNER" : "CUSTOMER", userId: viewer.userId };
  return null;
}

export function canTransition(from: OrderStatus, to: OrderStatus, actor: Actor): boolean {
  return EDGES[from][to]?.includes(actor.kind) ?? false;
}

export async function transition(
  tx: OrdersTransaction,
  jobs: JobQueue,
  orderId: string,
  to: OrderStatus,
  actor: Actor,
  reason: string | null,
): Promise<Order> {
  // Locked: concurrent changes of one order queue up here, and each sees the other's result.
  const [locked] = await tx.$queryRaw<{ status: OrderStatus; stock_state: StockState }[]>`
    SELECT status::text AS status, stock_state::text AS stock_state FROM orders WHERE id = ${orderId}::uuid FOR UPDATE`;
  if (!locked) throw coded(ErrorCode.NOT_FOUND, `No order has id ${orderId}.`);
  const from = locked.status;
  if (!canTransition(from, to, actor)) {
    const allowed = Object.entries(EDGES[from])
      .filter(([, who]) => who?.includes(actor.kind))
      .map(([status]) => status);
    throw coded(
      ErrorCode.INVALID_STATUS_TRANSITION,
      `An order that is ${from} cannot become ${to}${EDGES[from][to] ? " by this caller" : ""}.`,
      { from, to, allowed },
    );
  }
  // Only a hold inventory has can be released or sold (not an UNTRACKED order's).
  const stockState = locked.stock_state === "HELD" ? STOCK_ON_ENTRY[to] : undefined;
  const order = await tx.order.update({
    where: { id: orderId },
    data: { status: to, ...(stockState ? { stockState } : {}), ...(to !== "PENDING" ? { paymentDueAt: null } : {}) },
  });
  await tx.orderTransition.create({
    data: { orderId, fromStatus: from, toStatus: to, actorId: actor.userId, actorKind: actor.kind, reason: reason?.slice(0, 200) ?? null },
  });
  // Cancelled orders owe a release and, if paid, a refund; shipped ones owe a sale.
  if (stockState || to === "CANCELLED") await jobs.enqueue(tx, JOB.orderSettle, { orderId });
  return order;
}
