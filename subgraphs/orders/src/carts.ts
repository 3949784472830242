import { randomUUID } from "node:crypto";
import { badUserInput, coded, ErrorCode, notFound, parseId, type PeerIdentity, type Viewer, WRITE_TRANSACTION } from "@catalog/common";
import type { LineInput } from "./placement.ts";
import type { Cart, CartLine } from "./prisma.ts";
import type { Selling } from "./services.ts";

/**
 * Carts (docs/decisions/0009). A cart's id is random (122 bits) and is the only key an anonymous
 * shopper needs; once a cart carries a user id, only that user reaches it. Someone else's cart and
 * an expired cart are answered exactly like a cart that does not exist. Every change extends the
 * cart's life by CART_TTL_SECONDS.
 */
export type CartWithLines = Cart & { lines: CartLine[] };

function mayUse(viewer: Viewer | null, cart: Cart): boolean {
  return cart.userId === null || cart.userId === viewer?.userId;
}

export async function findCart(selling: Selling, viewer: Viewer | null, cartId: string): Promise<CartWithLines | null> {
  const cart = await selling.prisma.cart.findUnique({ where: { id: cartId }, include: { lines: { orderBy: { addedAt: "asc" } } } });
  if (!cart || cart.expiresAt <= new Date() || !mayUse(viewer, cart)) return null;
  return cart;
}

async function requireCart(selling: Selling, viewer: Viewer | null, cartId: string): Promise<CartWithLines> {
  const cart = await findCart(selling, viewer, parseId(cartId, "cartId"));
  if (!cart) throw notFound(`No cart has id ${cartId}.`);
  return cart;
}

/** The signed-in customer's current cart: the one they changed last. */
export function myCart(selling: Selling, viewer: Viewer): Promise<CartWithLines | null> {
  return selling.prisma.cart.findFirst({
    where: { userId: viewer.userId, expiresAt: { gt: new Date() } },
    orderBy: { updatedAt: "desc" },
    include: { lines: { orderBy: { addedAt: "asc" } } },
  });
}

function validate(selling: Selling, lines: readonly { productId: string; quantity: number }[], allowZero: boolean): LineInput[] {
  const max = selling.settings.maxLineQuantity;
  return lines.map((line) => {
    const productId = parseId(line.productId, "productId");
    if (!Number.isInteger(line.quantity) || line.quantity < (allowZero ? 0 : 1) || line.quantity > max) {
      throw coded(ErrorCode.BAD_USER_INPUT, `quantity must be a whole number from ${allowZero ? 0 : 1} to ${max}.`, { field: "quantity", productId, limit: max });
    }
    return { productId, quantity: line.quantity };
  });
}

/** Only products that exist and are for sale can be added; lines already in a cart are flagged instead. */
async function requireBuyable(selling: Selling, identity: PeerIdentity, productIds: readonly string[]) {
  const products = await selling.peers.products(identity, productIds);
  const unavailable = productIds.filter((_, i) => products[i]?.status !== "ACTIVE");
  if (unavailable.length) {
    throw coded(ErrorCode.PRODUCT_UNAVAILABLE, `These products cannot be bought: ${unavailable.join(", ")}.`, { productIds: unavailable });
  }
}

/** Applies `change` to the cart's quantities under a row lock, then checks the limits. */
async function changeLines(
  selling: Selling,
  viewer: Viewer | null,
  cartId: string,
  change: (quantities: Map<string, number>) => void,
): Promise<CartWithLines> {
  const cart = await requireCart(selling, viewer, cartId);
  await selling.prisma.$transaction(async (tx) => {
    // Checked again under the lock: a checkout may have emptied and deleted it meanwhile.
    const [locked] = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM carts WHERE id = ${cart.id}::uuid AND expires_at > now() FOR UPDATE`;
    if (!locked) throw notFound(`No cart has id ${cartId}.`);
    const current = await tx.cartLine.findMany({ where: { cartId: cart.id } });
    const quantities = new Map(current.map((line) => [line.productId, line.quantity]));
    change(quantities);
    for (const [productId, quantity] of quantities) {
      if (quantity > selling.settings.maxLineQuantity) {
        throw coded(ErrorCode.BAD_USER_INPUT, `A line holds at most ${selling.settings.maxLineQuantity} units.`, { field: "quantity", productId, limit: selling.settings.maxLineQuantity });
      }
      if (quantity <= 0) quantities.delete(productId);
    }
    if (quantities.size > selling.settings.maxOrderLines) {
      throw coded(ErrorCode.BAD_USER_INPUT, `A cart holds at most ${selling.settings.maxOrderLines} lines.`, { field: "lines", limit: selling.settings.maxOrderLines });
    }
    const before = new Map(current.map((line) => [line.productId, line.quantity]));
    const removed = [...before.keys()].filter((id) => !quantities.has(id));
    if (removed.length) await tx.cartLine.deleteMany({ where: { cartId: cart.id, productId: { in: removed } } });
    for (const [productId, quantity] of quantities) {
      if (before.get(productId) === quantity) continue;
      await tx.cartLine.upsert({
        where: { cartId_productId: { cartId: cart.id, productId } },
        create: { cartId: cart.id, productId, quantity },
        update: { quantity },
      });
    }
    await tx.cart.update({ where: { id: cart.id }, data: { expiresAt: expiry(selling) } });
  }, WRITE_TRANSACTION);
  return found(await findCart(selling, viewer, cart.id), cartId);
}

function found(cart: CartWithLines | null, cartId: string): CartWithLines {
  if (!cart) throw notFound(`No cart has id ${cartId}.`);
  return cart;
}

function expiry(selling: Selling): Date {
  return new Date(Date.now() + selling.settings.cartTtlSeconds * 1000);
}

export async function createCart(selling: Selling, viewer: Viewer | null, identity: PeerIdentity, input: readonly LineInput[]): Promise<CartWithLines> {
  const lines = validate(selling, input, false);
  if (new Set(lines.map((l) => l.productId)).size !== lines.length) throw badUserInput("Each product may appear on one line only.", "lines");
  if (lines.length > selling.settings.maxOrderLines) {
    throw coded(ErrorCode.BAD_USER_INPUT, `A cart holds at most ${selling.settings.maxOrderLines} lines.`, { field: "lines", limit: selling.settings.maxOrderLines });
  }
  if (lines.length) await requireBuyable(selling, identity, lines.map((l) => l.productId));
  const id = randomUUID();
  await selling.prisma.cart.create({
    data: { id, userId: viewer?.userId ?? null, expiresAt: expiry(selling), lines: { create: lines } },
  });
  return found(await findCart(selling, viewer, id), id);
}

export async function addCartLines(selling: Selling, viewer: Viewer | null, identity: PeerIdentity, cartId: string, input: readonly LineInput[]) {
  const lines = validate(selling, input, false);
  await requireCart(selling, viewer, cartId);
  await requireBuyable(selling, identity, [...new Set(lines.map((l) => l.productId))]);
  return changeLines(selling, viewer, cartId, (quantities) => {
    for (const line of lines) quantities.set(line.productId, (quantities.get(line.productId) ?? 0) + line.quantity);
  });
}

/** Sets quantities; 0 removes the line. */
export async function updateCartLines(selling: Selling, viewer: Viewer | null, cartId: string, input: readonly LineInput[]) {
  const lines = validate(selling, input, true);
  return changeLines(selling, viewer, cartId, (quantities) => {
    for (const line of lines) {
      if (!quantities.has(line.productId) && line.quantity > 0) throw notFound(`The cart has no line for product ${line.productId}.`);
      quantities.set(line.productId, line.quantity);
    }
  });
}

export async function removeCartLines(selling: Selling, viewer: Viewer | null, cartId: string, productIds: readonly string[]) {
  const ids = productIds.map((id) => parseId(id, "productIds"));
  return changeLines(selling, viewer, cartId, (quantities) => {
    for (const id of ids) quantities.delete(id);
  });
}

/**
 * After signing in: the anonymous cart becomes the customer's. If they already have a cart, its
 * lines are merged into that one (quantities added, capped at the line limit) and the anonymous
 * cart is deleted, so its id stops working.
 */
export async function attachCart(selling: Selling, viewer: Viewer, cartId: string): Promise<CartWithLines> {
  const cart = await requireCart(selling, viewer, cartId);
  if (cart.userId === viewer.userId) return cart;
  const mine = await myCart(selling, viewer);
  if (!mine) {
    const claimed = await selling.prisma.cart.updateMany({ where: { id: cart.id, userId: null }, data: { userId: viewer.userId, expiresAt: expiry(selling) } });
    if (claimed.count === 0) throw notFound(`No cart has id ${cartId}.`);
    return found(await findCart(selling, viewer, cart.id), cartId);
  }
  const max = selling.settings.maxLineQuantity;
  await selling.prisma.$transaction(async (tx) => {
    const [target] = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM carts WHERE id = ${mine.id}::uuid AND expires_at > now() FOR UPDATE`;
    if (!target) throw notFound(`Your cart ${mine.id} is gone; attach again.`);
    // Deleting first makes a concurrent attach of the same anonymous cart find nothing to merge.
    const gone = await tx.cart.deleteMany({ where: { id: cart.id, userId: null } });
    if (gone.count === 0) throw notFound(`No cart has id ${cartId}.`);
    for (const line of cart.lines) {
      const existing = await tx.cartLine.findUnique({ where: { cartId_productId: { cartId: mine.id, productId: line.productId } } });
      const quantity = Math.min(max, (existing?.quantity ?? 0) + line.quantity);
      await tx.cartLine.upsert({
        where: { cartId_productId: { cartId: mine.id, productId: line.productId } },
        create: { cartId: mine.id, productId: line.productId, quantity },
        update: { quantity },
      });
    }
    await tx.cart.update({ where: { id: mine.id }, data: { expiresAt: expiry(selling) } });
  }, WRITE_TRANSACTION);
  return found(await findCart(selling, viewer, mine.id), mine.id);
}

/** The cart a checkout buys, exactly that one: an anonymous cart becomes the caller's first. */
export async function cartForCheckout(selling: Selling, viewer: Viewer, cartId: string): Promise<CartWithLines> {
  const cart = await requireCart(selling, viewer, cartId);
  if (cart.userId === null) {
    const claimed = await selling.prisma.cart.updateMany({ where: { id: cart.id, userId: null }, data: { userId: viewer.userId } });
    if (claimed.count === 0) throw notFound(`No cart has id ${cartId}.`);
  }
  if (cart.lines.length === 0) throw badUserInput("The cart is empty.", "cartId");
  return cart;
}
