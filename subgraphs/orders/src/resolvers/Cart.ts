import type { Context } from "../context.ts";
import type { CartLine as CartLineRow } from "../prisma.ts";
import { Prisma } from "../generated/prisma/client.ts";
import type { CartResolvers, CartLineResolvers } from "../generated/graphql.ts";

type LineStatus = "OK" | "ARCHIVED" | "UNAVAILABLE" | "OUT_OF_STOCK" | "INSUFFICIENT_STOCK";

async function lineStatus(line: CartLineRow, ctx: Context): Promise<LineStatus> {
  const [product, available] = await Promise.all([ctx.loaders.catalogProduct.load(line.productId), ctx.loaders.available.load(line.productId)]);
  if (!product) return "UNAVAILABLE";
  if (product.status !== "ACTIVE") return "ARCHIVED";
  if (available === 0) return "OUT_OF_STOCK";
  return available < line.quantity ? "INSUFFICIENT_STOCK" : "OK";
}

/** Lines show live prices and stock, read from products and inventory once per request. */
export const Cart: CartResolvers = {
  totalQuantity(cart) {
    return cart.lines.reduce((sum, line) => sum + line.quantity, 0);
  },
  async subtotal(cart, _, ctx) {
    if (cart.lines.length === 0) return null;
    const products = await Promise.all(cart.lines.map((line) => ctx.loaders.catalogProduct.load(line.productId)));
    if (products.some((p) => !p) || new Set(products.map((p) => p!.price.currency)).size !== 1) return null;
    const amount = cart.lines.reduce((sum, line, i) => sum.add(new Prisma.Decimal(products[i]!.price.amount).mul(line.quantity)), new Prisma.Decimal(0));
    return { amount: amount.toFixed(2), currency: products[0]!.price.currency };
  },
  async checkoutReady(cart, _, ctx) {
    if (cart.lines.length === 0) return false;
    const statuses = await Promise.all(cart.lines.map((line) => lineStatus(line, ctx)));
    return statuses.every((status) => status === "OK");
  },
};

export const CartLine: CartLineResolvers = {
  product(line) {
    return { __typename: "Product", id: line.productId };
  },
  async unitPrice(line, _, ctx) {
    return (await ctx.loaders.catalogProduct.load(line.productId))?.price ?? null;
  },
  async lineTotal(line, _, ctx) {
    const price = (await ctx.loaders.catalogProduct.load(line.productId))?.price;
    return price ? { amount: new Prisma.Decimal(price.amount).mul(line.quantity).toFixed(2), currency: price.currency } : null;
  },
  available(line, _, ctx) {
    return ctx.loaders.available.load(line.productId);
  },
  status(line, _, ctx) {
    return lineStatus(line, ctx);
  },
};
