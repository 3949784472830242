import { randomUUID } from "node:crypto";
import { badUserInput, coded, ErrorCode, notFound, type Viewer } from "@catalog/common";
import { JOB } from "./jobs.ts";
import { isWellFormedCardNumber } from "./payments/test-provider.ts";
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
  const captured = await selling.prisma.payment.findFirst({ where: { orderId, status: "CAPTURED" } });
  if (captured) return order; // Already paid: a retried payOrder never charges twice.

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
  });

  let result: CaptureResult;
  try {
    result = await selling.provider.capture({ idempotencyKey, amount: order.totalAmount.toFixed(2), currency: order.currency, source: { cardNumber } });
  } catch (error) {
    selling.logger.warn({ err: error, paymentId }, "payment capture did not answer; its recovery job will settle it");
    throw coded(ErrorCode.SERVICE_UNAVAILABLE, "The payment provider did not answer. The payment will be settled shortly; check the order before paying again.");
  }
  await selling.faults.afterCapture?.(paymentId);
  const settled = await recordPayment(selling, paymentId, result);
  if (result.status === "DECLINED" && settled.status === "CANCELLED") {
    throw coded(ErrorCode.PAYMENT_DECLINED, `The payment was declined (${result.declineCode}); the order is cancelled.`, {
      declineCode: result.declineCode,
      orderId,
    });
  }
  return settled;
}

/**
 * Step 3, shared by payOrder and the recovery job: records the provider's answer once (the
 * payment row is locked and must still be PENDING) and moves the order accordingly.
 */
export async function recordPayment(selling: Selling, paymentId: string, result: CaptureResult | null): Promise<Order> {
  const orderId = await selling.prisma.$transaction(async (tx) => {
    const [payment] = await tx.$queryRaw<{ status: string; order_id: string }[]>`
      SELECT status::text AS status, order_id::text AS order_id FROM payments WHERE id = ${paymentId}::uuid FOR UPDATE`;
    if (!payment) throw notFound(`No payment has id ${paymentId}.`);
    if (payment.status !== "PENDING") return payment.order_id;
    const order = await tx.order.findUniqueOrThrow({ where: { id: payment.order_id } });
    if (result?.status === "CAPTURED") {
      await tx.payment.update({ where: { id: paymentId }, data: { status: "CAPTURED", providerReference: result.reference } });
      if (order.status === "PENDING") {
        await transition(tx, selling.jobs, order.id, "PROCESSING", SYSTEM, "payment captured");
      } else {
        // Cancelled while the capture was in flight: the money goes back (the settle job refunds).
        await selling.jobs.enqueue(tx, JOB.orderSettle, { orderId: order.id });
      }
    } else {
      await tx.payment.update({
        where: { id: paymentId },
        data: { status: "DECLINED", providerReference: result?.reference ?? null, declineCode: result?.declineCode ?? "not_captured" },
      });
      if (order.status === "PENDING") {
        await transition(tx, selling.jobs, order.id, "CANCELLED", SYSTEM, `payment declined: ${result?.declineCode ?? "not captured"}`);
      }
    }
    return order.id;
  });
  await settleOrder(selling, orderId, "inline").catch((error: unknown) => {
    selling.logger.warn({ err: error, orderId }, "settling the order failed; its job will retry");
  });
  const order = await selling.prisma.order.findUniqueOrThrow({ where: { id: orderId } });
  await purgeOrder(selling, order);
  return order;
}

/** The recovery job: a payment still PENDING is resolved with the provider and recorded. */
export async function recoverPayment(selling: Selling, paymentId: string): Promise<void> {
  const payment = await selling.prisma.payment.findUnique({ where: { id: paymentId } });
  if (payment?.status !== "PENDING") return;
  await recordPayment(selling, paymentId, await selling.provider.resolve(payment.idempotencyKey));
}
