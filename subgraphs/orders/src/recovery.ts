import { randomUUID } from "node:crypto";
import { ErrorCode, WRITE_TRANSACTION } from "@catalog/common";
import type { GraphQLError } from "graphql";
import type { JobHandlers } from "./jobs.ts";
import { recordPayment, recoverPayment } from "./payment.ts";
import { purgeOrder, type Selling } from "./services.ts";
import { settleOrder } from "./settle.ts";
import { SYSTEM, transition } from "./workflow.ts";

/**
 * A checkout still PLACING at its deadline is abandoned, then its stock released, then it is
 * RELEASED (its key free again). The abandon is a conditional update, so it and a replay finishing
 * the same checkout cannot both win; the release leaves a tombstone at inventory, so a reserve
 * still in flight for it cannot take stock later. An order that exists is never touched here.
 * A release that fails leaves the checkout ABANDONED: the job retries it, and the sweep finds it.
 */
export async function recoverCheckout(selling: Selling, orderId: string): Promise<void> {
  await selling.prisma.checkout.updateMany({ where: { orderId, state: "PLACING" }, data: { state: "ABANDONED" } });
  const checkout = await selling.prisma.checkout.findUnique({ where: { orderId } });
  if (checkout?.state === "PLACED" || checkout?.state === "RELEASED") return;
  if ((await selling.prisma.order.count({ where: { id: orderId } })) > 0) return;
  await selling.peers.release(`job-recover-${randomUUID()}`, orderId, "checkout abandoned");
  await selling.prisma.checkout.updateMany({ where: { orderId, state: "ABANDONED" }, data: { state: "RELEASED" } });
  selling.logger.info({ orderId }, "abandoned an unfinished checkout and released its stock");
}

/** At the payment deadline: a capture that landed still wins; otherwise the order is cancelled. */
export async function expireUnpaidOrder(selling: Selling, orderId: string): Promise<void> {
  const order = await selling.prisma.order.findUnique({ where: { id: orderId } });
  if (order?.status !== "PENDING") return;
  for (const payment of await selling.prisma.payment.findMany({ where: { orderId, status: "PENDING" } })) {
    await recordPayment(selling, payment.id, await selling.provider.resolve(payment.idempotencyKey));
  }
  // A capture recorded just now made it PROCESSING: it is paid, not late.
  if ((await selling.prisma.order.findUnique({ where: { id: orderId } }))?.status !== "PENDING") return;
  try {
    await selling.prisma.$transaction((tx) => transition(tx, selling.jobs, orderId, "CANCELLED", SYSTEM, "not paid in time"), WRITE_TRANSACTION);
  } catch (error) {
    // Paid or cancelled in the meantime: nothing left to do.
    if ((error as GraphQLError).extensions?.code === ErrorCode.INVALID_STATUS_TRANSITION) return;
    throw error;
  }
  await settleOrder(selling, orderId, "job");
  await purgeOrder(selling, order);
}

/**
 * The backstop, every minute: whatever is overdue by more than its own job's delay plus a grace
 * minute gets the same idempotent step its job would have run. At most `BATCH` of each per run.
 */
const BATCH = 100;
const GRACE_MS = 60_000;

export async function sweep(selling: Selling): Promise<void> {
  const { prisma, settings } = selling;
  const ago = (seconds: number) => new Date(Date.now() - seconds * 1000 - GRACE_MS);
  const steps: [string, () => Promise<void>][] = [];
  const checkouts = await prisma.checkout.findMany({
    where: {
      OR: [
        { state: "PLACING", updatedAt: { lt: ago(settings.checkoutRecoverySeconds) } },
        { state: "ABANDONED", updatedAt: { lt: ago(0) } },
      ],
    },
    take: BATCH,
  });
  for (const c of checkouts) steps.push([`checkout ${c.orderId}`, () => recoverCheckout(selling, c.orderId)]);
  for (const p of await prisma.payment.findMany({ where: { status: "PENDING", createdAt: { lt: ago(settings.paymentRecoverySeconds) } }, take: BATCH })) {
    steps.push([`payment ${p.id}`, () => recoverPayment(selling, p.id)]);
  }
  for (const o of await prisma.order.findMany({ where: { status: "PENDING", paymentDueAt: { lt: ago(0) } }, take: BATCH })) {
    steps.push([`expiry ${o.id}`, () => expireUnpaidOrder(selling, o.id)]);
  }
  const owed = await prisma.order.findMany({
    where: {
      updatedAt: { lt: ago(0) },
      OR: [
        { stockState: { in: ["RELEASING", "SELLING"] } },
        // Cancelled with money still taken (or in flight): a refund is owed.
        { status: "CANCELLED", payments: { some: { status: { in: ["PENDING", "CAPTURED"] } } } },
      ],
    },
    take: BATCH,
  });
  for (const o of owed) steps.push([`settle ${o.id}`, () => settleOrder(selling, o.id, "job")]);
  for (const [what, step] of steps) {
    // One stuck saga must not keep the others waiting: log it and go on; the next sweep retries.
    await step().catch((error: unknown) => selling.logger.warn({ err: error, what }, "sweep could not finish a step"));
  }
  if (steps.length) selling.logger.info({ steps: steps.length }, "sweep finished overdue saga steps");
}

export function jobHandlers(selling: Selling): JobHandlers {
  return {
    "orders-checkout-recover": ({ orderId }) => recoverCheckout(selling, orderId),
    "orders-payment-recover": ({ paymentId }) => recoverPayment(selling, paymentId),
    "orders-expire-unpaid": ({ orderId }) => expireUnpaidOrder(selling, orderId),
    "orders-settle": async ({ orderId }) => {
      await settleOrder(selling, orderId, "job");
      const order = await selling.prisma.order.findUnique({ where: { id: orderId } });
      if (order) await purgeOrder(selling, order);
    },
    "orders-sweep": () => sweep(selling),
    "orders-carts-purge": async () => {
      const { count } = await selling.prisma.cart.deleteMany({ where: { expiresAt: { lt: new Date() } } });
      // Idempotency keys are remembered for IDEMPOTENCY_KEY_TTL_SECONDS (README, Selling).
      const forgotten = await selling.prisma.checkout.deleteMany({
        where: { state: { in: ["PLACED", "RELEASED"] }, updatedAt: { lt: new Date(Date.now() - selling.settings.idempotencyKeyTtlSeconds * 1000) } },
      });
      if (count || forgotten.count) selling.logger.info({ carts: count, keys: forgotten.count }, "deleted expired carts and idempotency keys");
    },
  };
}
