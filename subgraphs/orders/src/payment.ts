import { randomUUID } from "node:crypto";
import { badUserInput, coded, ErrorCode, notFound, type Viewer, WRITE_TRANSACTION } from "@catalog/common";
import { JOB } from "./jobs.ts";
import { isWellFormedCardNumber } from "./payments/card.ts";
import type { CaptureResult, PaymentSource } from "./payments/provider.ts";
import type { Order } from "./prisma.ts";
import { purgeOrder, type Selling } from "./services.ts";
import { settleOrder } from "./settle.ts";
import { SYSTEM, transition } from "./workflow.ts";

/**
 * Paying an order (docs/decisions/0009):
 *   1. record the payment PENDING with its idempotency key + a recovery job (one transaction;
 *      a partial unique index allows one live payment per order)
 *   2. capture at the provider under that key
 *   3. record the answer: CAPTURED -> order PROCESSING; DECLINED -> order CANCELLED, stock released
 * A crash or timeout after 1 leaves a PENDING payment; its recovery job asks the provider to
 * resolve the key (captured, or voided for good) and finishes step 3. A paid order is never lost:
 * the provider's record decides, and a capture for an order cancelled meanwhile is refunded.
 */
export async function payOrder(selling: Selling, viewer: Viewer, orderId: string, source: PaymentSource): Promise<Order> {
  const cardNumber = source.cardNumber.replace(/[\s-]/g, "");
  if (!isWellFormedCardNumber(cardNumber)) throw badUserInput("payment.cardNumber is not a valid card number.", "payment.cardNumber");
  const order = await selling.prisma.order.findUnique({ where: { id: orderId } });
  // Someone else's order does not exist, as far as this caller can tell.
  if (!order || order.userId !== viewer.userId) throw notFound(`No order has id ${orderId}.`);
  const captured = await selling.prisma.payment.findFirst({ where: { orderId, status: { in: ["CAPTURED", "REFUNDED"] } } });
  if (captured) return order; // Already paid (or paid and refunded): a retried payOrder never charges twice.

  const paymentId = randomUUID();
  const idempotencyKey = `pay_${paymentId}`;
  await selling.prisma.$transaction(async (tx) => {
    const [locked] = await tx.$queryRaw<{ status: string }[]>`SELECT status::text AS status FROM orders WHERE id = ${orderId}::uuid FOR UPDATE`;
    if (locked?.status !== "PENDING") {
      throw coded(ErrorCode.INVALID_STATUS_TRANSITION, `An order that is ${locked?.status} cannot be paid.`, { from: locked?.status, to: "PROCESSING" });
    }
    if (await tx.payment.count({ where: { orderId, status: "PENDING" } })) {
      throw coded(ErrorCode.CONFLICT, "A payment for this order is already in progress.");
    }
    await tx.payment.create({
      data: {
        id: paymentId,
        orderId,
        provider: selling.provider.name,
        status: "PENDING",
        amount: order.totalAmount,
        currency: order.currency,
        idempotencyKey,
        cardLast4: cardNumber.slice(-4),
      },
    });
    await selling.jobs.enqueue(tx, JOB.paymentRecover, { paymentId }, { startAfterSeconds: selling.settings.paymentRecoverySeconds });
  }, WRITE_TRANSACTION);

  let result: CaptureResult;
  try {
    await selling.faults.beforeCapture?.(paymentId);
    result = await selling.provider.capture({ idempotencyKey, amount: order.totalAmount.toFixed(2), currency: order.currency, source: { cardNumber } });
  } catch (error) {
    selling.logger.warn({ err: error, paymentId }, "payment capture did not answer; its recovery job will settle it");
    throw coded(ErrorCode.SERVICE_UNAVAILABLE, "The payment provider did not answer. The payment will be settled shortly; check the order before paying again.");
  }
  await selling.faults.afterCapture?.(paymentId);
  const { order: settled, outcome } = await recordPayment(selling, paymentId, result);
  if (outcome === "declined" && settled.status === "CANCELLED" && result.status === "DECLINED") {
    throw coded(ErrorCode.PAYMENT_DECLINED, `The payment was declined (${result.declineCode}); the order is cancelled.`, {
      declineCode: result.declineCode,
      orderId,
    });
  }
  if (outcome === "refund_owed") {
    throw coded(ErrorCode.INVALID_STATUS_TRANSITION, "The order was cancelled while it was being paid; the payment is refunded.", {
      from: settled.status,
      to: "PROCESSING",
      orderId,
    });
  }
  return settled;
}

export type PaymentOutcome = "captured" | "declined" | "failed" | "refund_owed" | "already_recorded";

/**
 * Step 3, shared by payOrder and the recovery jobs: records the provider's answer once (the
 * payment row is locked and must still be PENDING, then the order is locked) and moves the order:
 *   captured  -> PROCESSING (or, if it was cancelled meanwhile, the settle job refunds it)
 *   declined  -> CANCELLED, stock released
 *   null      -> the provider never took it: the payment FAILED, the order stays PENDING and can be
 *                paid again until its deadline
 */
export async function recordPayment(
  selling: Selling,
  paymentId: string,
  result: CaptureResult | null,
): Promise<{ order: Order; outcome: PaymentOutcome }> {
  const { orderId, outcome } = await selling.prisma.$transaction(async (tx) => {
    const [payment] = await tx.$queryRaw<{ status: string; order_id: string }[]>`
      SELECT status::text AS status, order_id::text AS order_id FROM payments WHERE id = ${paymentId}::uuid FOR UPDATE`;
    if (!payment) throw notFound(`No payment has id ${paymentId}.`);
    const id = payment.order_id;
    if (payment.status !== "PENDING") return { orderId: id, outcome: "already_recorded" as const };
    const [order] = await tx.$queryRaw<{ status: string }[]>`SELECT status::text AS status FROM orders WHERE id = ${id}::uuid FOR UPDATE`;
    if (result?.status === "CAPTURED") {
      await tx.payment.update({ where: { id: paymentId }, data: { status: "CAPTURED", providerReference: result.reference } });
      if (order?.status === "PENDING") {
        await transition(tx, selling.jobs, id, "PROCESSING", SYSTEM, "payment captured");
        return { orderId: id, outcome: "captured" as const };
      }
      // Cancelled while the capture was in flight: the money goes back (the settle job refunds).
      await selling.jobs.enqueue(tx, JOB.orderSettle, { orderId: id });
      return { orderId: id, outcome: "refund_owed" as const };
    }
    if (result?.status === "DECLINED") {
      await tx.payment.update({ where: { id: paymentId }, data: { status: "DECLINED", providerReference: result.reference, declineCode: result.declineCode } });
      if (order?.status === "PENDING") {
        await transition(tx, selling.jobs, id, "CANCELLED", SYSTEM, `payment declined: ${result.declineCode}`);
      }
      return { orderId: id, outcome: "declined" as const };
    }
    await tx.payment.update({ where: { id: paymentId }, data: { status: "FAILED", declineCode: "not_captured" } });
    return { orderId: id, outcome: "failed" as const };
  }, WRITE_TRANSACTION);
  if (outcome === "declined" || outcome === "refund_owed") {
    await settleOrder(selling, orderId, "inline").catch((error: unknown) => {
      selling.logger.warn({ err: error, orderId }, "settling the order failed; its job will retry");
    });
  }
  const order = await selling.prisma.order.findUniqueOrThrow({ where: { id: orderId } });
  await purgeOrder(selling, order);
  return { order, outcome };
}

/** The recovery job: a payment still PENDING is resolved with the provider and recorded. */
export async function recoverPayment(selling: Selling, paymentId: string): Promise<void> {
  const payment = await selling.prisma.payment.findUnique({ where: { id: paymentId } });
  if (payment?.status !== "PENDING") return;
  await recordPayment(selling, paymentId, await selling.provider.resolve(payment.idempotencyKey));
}
