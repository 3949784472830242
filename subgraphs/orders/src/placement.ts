import { createHash, randomUUID } from "node:crypto";
import { badUserInput, coded, ErrorCode, PARTNER_ROLE, type PeerIdentity, type Viewer, WRITE_TRANSACTION } from "@catalog/common";
import { Prisma } from "./generated/prisma/client.ts";
import { JOB } from "./jobs.ts";
import type { CatalogProduct } from "./peers.ts";
import type { Checkout, Order, OrdersTransaction } from "./prisma.ts";
import { recoverCheckout } from "./recovery.ts";
import { purgeOrder, type Selling } from "./services.ts";

/**
 * Placing an order: one saga shared by `checkout` (a cart's lines) and `placeOrder` (lines given
 * directly). The steps, each idempotent and keyed (docs/decisions/0009):
 *
 *   1. validate the request; look up (customer, idempotency key): a replay returns or resumes
 *   2. price every line at products, server-side, now           -> nothing written on refusal
 *   3. record the checkout PLACING + a recovery job, in one transaction (the saga's log)
 *   4. hold the stock at inventory, keyed by the new order id    -> all lines or none
 *   5. write the order PENDING + its payment deadline job, mark the checkout PLACED, empty the
 *      cart: one transaction, conditional on the checkout still being PLACING
 *
 * A crash or timeout between 3 and 5 leaves a PLACING checkout: a replay of the same key resumes
 * it at step 4, and otherwise its recovery job abandons it and releases the stock.
 */

export interface AddressInput {
  name: string;
  line1: string;
  line2?: string | null;
  city: string;
  region?: string | null;
  postalCode: string;
  country: string;
}

export interface LineInput {
  productId: string;
  quantity: number;
}

export interface PlacementRequest {
  /** A cart's lines are read only when a new attempt is priced, never for a replay. */
  lines: LineInput[] | (() => Promise<LineInput[]>);
  shippingAddress: AddressInput;
  idempotencyKey: string;
  /** Set when the lines come from a cart, which is emptied when the order is placed. */
  cartId: string | null;
}

interface PlannedLine extends LineInput {
  unitPrice: string;
}

/** What step 2 decided, stored on the checkout so a resumed saga writes exactly this order. */
interface Plan {
  currency: string;
  total: string;
  lines: PlannedLine[];
  address: Required<{ [K in keyof AddressInput]: string | null }>;
  cartId: string | null;
  /** Placed through a partner's API key: the owner id is the partner's. */
  partner: boolean;
}

const KEY_FORMAT = /^[\x21-\x7e]{8,255}$/;
/** What the orders.total_amount column (DECIMAL(12,2)) holds. */
const MAX_TOTAL = "9999999999.99";

function text(value: string | null | undefined, field: string, max: number, required: boolean): string | null {
  const trimmed = value?.trim() ?? "";
  if (!trimmed) {
    if (required) throw badUserInput(`shippingAddress.${field} is required.`, `shippingAddress.${field}`);
    return null;
  }
  if (trimmed.length > max) throw badUserInput(`shippingAddress.${field} must be at most ${max} characters.`, `shippingAddress.${field}`);
  return trimmed;
}

export function validateAddress(input: AddressInput): Plan["address"] {
  const country = text(input.country, "country", 2, true)!.toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) throw badUserInput("shippingAddress.country must be an ISO 3166-1 alpha-2 code such as DE.", "shippingAddress.country");
  return {
    name: text(input.name, "name", 200, true),
    line1: text(input.line1, "line1", 200, true),
    line2: text(input.line2, "line2", 200, false),
    city: text(input.city, "city", 100, true),
    region: text(input.region, "region", 100, false),
    postalCode: text(input.postalCode, "postalCode", 20, true),
    country,
  };
}

export function validateLines(lines: readonly LineInput[], limits: { maxOrderLines: number; maxLineQuantity: number }): LineInput[] {
  if (lines.length === 0) throw badUserInput("An order needs at least one line.", "lines");
  if (lines.length > limits.maxOrderLines) {
    throw coded(ErrorCode.BAD_USER_INPUT, `An order may have at most ${limits.maxOrderLines} lines.`, { field: "lines", limit: limits.maxOrderLines });
  }
  const seen = new Set<string>();
  for (const line of lines) {
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > limits.maxLineQuantity) {
      throw coded(ErrorCode.BAD_USER_INPUT, `quantity must be a whole number from 1 to ${limits.maxLineQuantity}.`, {
        field: "quantity",
        productId: line.productId,
        limit: limits.maxLineQuantity,
      });
    }
    if (seen.has(line.productId)) throw badUserInput("Each product may appear on one line only.", "lines");
    seen.add(line.productId);
  }
  return lines.map(({ productId, quantity }) => ({ productId, quantity }));
}

export function validateIdempotencyKey(key: string): string {
  if (!KEY_FORMAT.test(key)) {
    throw badUserInput("idempotencyKey must be 8 to 255 printable ASCII characters (a UUID is a good choice).", "idempotencyKey");
  }
  return key;
}

/**
 * The payload the idempotency key is bound to: the same key may only ever mean this request. For
 * a checkout that is the cart and the address (the cart's lines change as the order empties it).
 */
function requestHash(lines: readonly LineInput[] | null, cartId: string | null, address: Plan["address"]): string {
  const sorted = lines ? [...lines].sort((a, b) => (a.productId < b.productId ? -1 : 1)).map((l) => [l.productId, l.quantity]) : null;
  return createHash("sha256").update(JSON.stringify({ lines: sorted, address, cartId })).digest("hex");
}

/** Step 2: prices and currency from products at this moment; the client never sends a price. */
export function priceLines(lines: readonly LineInput[], products: readonly (CatalogProduct | null)[]): Pick<Plan, "currency" | "total" | "lines"> {
  const unavailable = lines.filter((_, i) => products[i]?.status !== "ACTIVE").map((line) => line.productId);
  if (unavailable.length > 0) {
    throw coded(ErrorCode.PRODUCT_UNAVAILABLE, `These products cannot be bought: ${unavailable.join(", ")}.`, { productIds: unavailable });
  }
  const currencies = [...new Set(products.map((p) => p!.price.currency))];
  if (currencies.length > 1) {
    throw coded(ErrorCode.CURRENCY_MISMATCH, `An order is paid in one currency; these lines are priced in ${currencies.join(" and ")}.`, { currencies });
  }
  let total = new Prisma.Decimal(0);
  const planned = lines.map((line, i) => {
    const unitPrice = new Prisma.Decimal(products[i]!.price.amount);
    total = total.add(unitPrice.mul(line.quantity));
    return { ...line, unitPrice: unitPrice.toFixed(2) };
  });
  if (total.greaterThan(MAX_TOTAL)) {
    throw coded(ErrorCode.BAD_USER_INPUT, `An order's total may be at most ${MAX_TOTAL}.`, { field: "lines", limit: MAX_TOTAL });
  }
  return { currency: currencies[0]!, total: total.toFixed(2), lines: planned };
}

export async function placeOrder(selling: Selling, viewer: Viewer, identity: PeerIdentity, request: PlacementRequest): Promise<Order> {
  const address = validateAddress(request.shippingAddress);
  const idempotencyKey = validateIdempotencyKey(request.idempotencyKey);
  const given = typeof request.lines === "function" ? null : validateLines(request.lines, selling.settings);
  const hash = requestHash(given, request.cartId, address);
  const key = { userId: viewer.userId, idempotencyKey };

  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await selling.prisma.checkout.findUnique({ where: { userId_idempotencyKey: key } });
    if (existing && existing.requestHash !== hash) {
      throw coded(ErrorCode.IDEMPOTENCY_KEY_REUSED, "This idempotency key was already used for a different order; use a new key for a new order.");
    }
    if (existing?.state === "PLACED") return orderOf(selling, existing.orderId);
    if (existing?.state === "PLACING") return resume(selling, identity, existing);
    // The key's previous attempt was abandoned: its stock goes back before the key is reused
    // (a failure here is SERVICE_UNAVAILABLE, and nothing changes).
    if (existing?.state === "ABANDONED") await recoverCheckout(selling, existing.orderId);

    // New, or the key's previous attempt was abandoned: price it and record the attempt.
    const lines = given ?? validateLines(await (request.lines as () => Promise<LineInput[]>)(), selling.settings);
    const priced = priceLines(lines, await selling.peers.products(identity, lines.map((l) => l.productId)));
    const plan: Plan = { ...priced, address, cartId: request.cartId, partner: viewer.roles.includes(PARTNER_ROLE) };
    const orderId = randomUUID();
    const recorded = await selling.prisma.$transaction(async (tx) => {
      // Every unpaid order holds stock: one caller may not hold without limit. Counted under a
      // per-caller lock, so concurrent checkouts cannot all pass the same count.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${viewer.userId}))`;
      const unpaid =
        (await tx.order.count({ where: { userId: viewer.userId, status: "PENDING" } })) +
        (await tx.checkout.count({ where: { userId: viewer.userId, state: "PLACING" } }));
      if (unpaid >= selling.settings.maxUnpaidOrders) {
        throw coded(ErrorCode.TOO_MANY_UNPAID_ORDERS, `You have ${unpaid} orders waiting for payment; pay or cancel one first.`, {
          limit: selling.settings.maxUnpaidOrders,
        });
      }
      const written = existing
        ? await tx.checkout.updateMany({
            where: { ...key, state: "RELEASED" },
            data: { orderId, state: "PLACING", plan: plan as unknown as Prisma.InputJsonValue, requestHash: hash, createdAt: new Date() },
          })
        : await tx.checkout.createMany({
            data: [{ ...key, orderId, state: "PLACING", requestHash: hash, plan: plan as unknown as Prisma.InputJsonValue }],
            skipDuplicates: true,
          });
      if (written.count === 0) return false;
      await selling.jobs.enqueue(tx, JOB.checkoutRecover, { orderId }, { startAfterSeconds: selling.settings.checkoutRecoverySeconds });
      return true;
    }, WRITE_TRANSACTION);
    // A concurrent request with the same key recorded it first: look again (it is now a replay).
    if (!recorded) continue;
    const checkout = await selling.prisma.checkout.findUniqueOrThrow({ where: { orderId } });
    return resume(selling, identity, checkout);
  }
  throw coded(ErrorCode.CONFLICT, "This idempotency key is being used by another request right now; try again.");
}

/** Steps 4 and 5 for a PLACING checkout; safe to run several times, concurrently too. */
async function resume(selling: Selling, identity: PeerIdentity, checkout: Checkout): Promise<Order> {
  const plan = checkout.plan as unknown as Plan;
  const { orderId } = checkout;
  const held = await selling.peers.reserve(identity.requestId, orderId, plan.lines);
  if (!held.ok) {
    // Nothing was reserved; forget the attempt so the same key can be tried again later.
    await selling.prisma.checkout.deleteMany({ where: { orderId, state: "PLACING" } });
    const detail = held.shortages.map((s) => `${s.productId}: ${s.requested} requested, ${s.available} available`).join("; ");
    throw coded(ErrorCode.INSUFFICIENT_STOCK, `Not enough stock: ${detail}.`, { shortages: held.shortages });
  }
  if (held.reservation.status === "RELEASED") throw expired();
  await selling.faults.afterReserve?.(orderId);

  const placed = await selling.prisma.$transaction(async (tx) => {
    // A cart's lines must still be there as they were priced; what was ordered leaves the cart,
    // and anything added meanwhile stays in it. If the cart lost lines (removed, or ordered by a
    // checkout under another key), this attempt is abandoned instead of ordering them twice.
    if (plan.cartId && !(await takeFromCart(tx, plan.cartId, checkout.userId, plan.lines))) {
      const abandoned = await tx.checkout.updateMany({ where: { orderId, state: "PLACING" }, data: { state: "ABANDONED" } });
      return abandoned.count ? ("cart_changed" as const) : null;
    }
    const claimed = await tx.checkout.updateMany({ where: { orderId, state: "PLACING" }, data: { state: "PLACED" } });
    if (claimed.count === 0) return null;
    const paymentDueAt = new Date(Date.now() + selling.settings.paymentTimeoutSeconds * 1000);
    const order = await tx.order.create({
      data: {
        id: orderId,
        userId: checkout.userId,
        status: "PENDING",
        stockState: "HELD",
        currency: plan.currency,
        totalAmount: plan.total,
        paymentDueAt,
        placedByPartner: plan.partner === true,
        shipName: plan.address.name!,
        shipLine1: plan.address.line1!,
        shipLine2: plan.address.line2,
        shipCity: plan.address.city!,
        shipRegion: plan.address.region,
        shipPostalCode: plan.address.postalCode!,
        shipCountry: plan.address.country!,
        items: { create: plan.lines.map((line, position) => ({ productId: line.productId, quantity: line.quantity, unitPrice: line.unitPrice, position })) },
        transitions: {
          create: { fromStatus: null, toStatus: "PENDING", actorId: checkout.userId, actorKind: plan.partner ? "PARTNER" : "CUSTOMER", reason: "placed" },
        },
      },
    });
    await selling.jobs.enqueue(tx, JOB.orderExpire, { orderId }, { startAfterSeconds: selling.settings.paymentTimeoutSeconds });
    return order;
  }, WRITE_TRANSACTION);
  if (placed === "cart_changed") {
    await recoverCheckout(selling, orderId).catch(() => undefined); // else its job does it
    throw coded(ErrorCode.CONFLICT, "The cart changed while it was being checked out; nothing was ordered. Check the cart and check out again.", {
      field: "cartId",
    });
  }
  if (placed) {
    await purgeOrder(selling, placed);
    return placed;
  }
  // Another request for this key (or the recovery job) got there first.
  const now = await selling.prisma.checkout.findUnique({ where: { orderId } });
  if (now?.state === "PLACED") return orderOf(selling, orderId);
  if (!now) {
    // A concurrent replay found the stock short and forgot the attempt after we held it: give it
    // back now rather than at the recovery job's time (which would also do it).
    await selling.peers.release(identity.requestId, orderId, "checkout forgotten").catch(() => undefined);
  }
  throw expired();
}

/** Removes the ordered quantities from the (locked) cart; false when it no longer holds them. */
async function takeFromCart(tx: OrdersTransaction, cartId: string, userId: string, lines: readonly LineInput[]): Promise<boolean> {
  const [cart] = await tx.$queryRaw<{ id: string }[]>`
    SELECT id FROM carts WHERE id = ${cartId}::uuid AND user_id = ${userId}::uuid AND expires_at > now() FOR UPDATE`;
  if (!cart) return false;
  const held = new Map((await tx.cartLine.findMany({ where: { cartId } })).map((line) => [line.productId, line.quantity]));
  if (lines.some((line) => (held.get(line.productId) ?? 0) < line.quantity)) return false;
  for (const line of lines) {
    const left = held.get(line.productId)! - line.quantity;
    if (left > 0) await tx.cartLine.update({ where: { cartId_productId: { cartId, productId: line.productId } }, data: { quantity: left } });
    else await tx.cartLine.delete({ where: { cartId_productId: { cartId, productId: line.productId } } });
    held.set(line.productId, left);
  }
  if ([...held.values()].every((quantity) => quantity <= 0)) await tx.cart.delete({ where: { id: cartId } });
  return true;
}

function expired() {
  return coded(ErrorCode.CHECKOUT_EXPIRED, "This checkout took too long and was cancelled; nothing was ordered. Send it again.");
}

async function orderOf(selling: Selling, orderId: string): Promise<Order> {
  return selling.prisma.order.findUniqueOrThrow({ where: { id: orderId } });
}
