import { randomUUID } from "node:crypto";
import type { Selling } from "./services.ts";

/**
 * What an order owes other systems after its status changed, done until done (docs/decisions/0009):
 *   RELEASING -> inventory releases the hold  -> RELEASED
 *   SELLING   -> inventory sells the held units -> SOLD
 *   CANCELLED with money taken -> the provider refunds it -> payment REFUNDED
 * Each call is idempotent at the other side, and each local update is conditional on the state
 * it started from, so the inline attempt and the job can both run without doing anything twice.
 * Throws when a call fails, so the job is retried with backoff.
 */
export async function settleOrder(selling: Selling, orderId: string, via: "inline" | "job"): Promise<void> {
  const requestId = `${via}-settle-${randomUUID()}`;
  const order = await selling.prisma.order.findUnique({ where: { id: orderId } });
  if (!order) return;
  if (order.stockState === "RELEASING") {
    await selling.peers.release(requestId, orderId, `order ${order.status.toLowerCase()}`);
    await selling.prisma.order.updateMany({ where: { id: orderId, stockState: "RELEASING" }, data: { stockState: "RELEASED" } });
  } else if (order.stockState === "SELLING") {
    await selling.peers.commit(requestId, orderId);
    await selling.prisma.order.updateMany({ where: { id: orderId, stockState: "SELLING" }, data: { stockState: "SOLD" } });
  }
  if (order.status !== "CANCELLED") return;
  for (const payment of await selling.prisma.payment.findMany({ where: { orderId, status: { in: ["PENDING", "CAPTURED"] } } })) {
    let reference = payment.providerReference;
    if (payment.status === "PENDING") {
      // Its capture may still land: settle it for good first (captured, or voided).
      const result = await selling.provider.resolve(payment.idempotencyKey);
      if (result?.status !== "CAPTURED") {
        await selling.prisma.payment.updateMany({
          where: { id: payment.id, status: "PENDING" },
          data: result
            ? { status: "DECLINED", declineCode: result.declineCode, providerReference: result.reference }
            : { status: "FAILED", declineCode: "not_captured" },
        });
        continue;
      }
      reference = result.reference;
    }
    // A refund is a request of its own at the provider: its own idempotency key.
    await selling.faults.beforeRefund?.(payment.id);
    await selling.provider.refund({ idempotencyKey: `${payment.idempotencyKey}:refund`, reference: reference! });
    await selling.prisma.payment.updateMany({
      where: { id: payment.id, status: { in: ["PENDING", "CAPTURED"] } },
      data: { status: "REFUNDED", providerReference: reference },
    });
  }
}
