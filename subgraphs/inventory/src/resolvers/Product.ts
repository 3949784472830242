import { badUserInput, isUuid, parseFirst } from "@catalog/common";
import type { StockItem } from "../prisma.ts";
import { estimateShipping } from "../shipping.ts";
import type { InventoryResolvers, ProductResolvers } from "../generated/graphql.ts";

/** What this subgraph knows of a product: its key, and the weight when the gateway provides it. */
export interface ProductRef {
  id: string;
  weightGrams?: number;
}

/** What Product.inventory answers: the levels, and the key its movements are read by. */
export interface InventoryParent {
  productId: string;
  onHand: number;
  reserved: number;
  available: number;
  updatedAt: Date | null;
}

function levels(stock: StockItem | null) {
  const onHand = stock?.onHand ?? 0;
  const reserved = stock?.reserved ?? 0;
  return { onHand, reserved, available: Math.max(0, onHand - reserved) };
}

function isWeight(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 1_000_000;
}

export const Product: ProductResolvers = {
  __resolveReference(reference): ProductRef | null {
    if (!isUuid(reference.id)) return null;
    return {
      id: reference.id.toLowerCase(),
      ...(isWeight(reference.weightGrams) ? { weightGrams: reference.weightGrams } : {}),
    };
  },
  async inventory(product, _, ctx): Promise<InventoryParent> {
    const stock = await ctx.loaders.stockByProductId.load(product.id);
    // A product this subgraph has never stocked simply has none: zeros, not an error.
    return { productId: product.id, updatedAt: stock?.updatedAt ?? null, ...levels(stock) };
  },
  async inStock(product, _, ctx) {
    return levels(await ctx.loaders.stockByProductId.load(product.id)).available > 0;
  },
  async shippingEstimate(product, _, ctx) {
    // The gateway always provides the weight (@requires); a direct call without a sane one gets an error.
    if (product.weightGrams === undefined) {
      throw badUserInput("weightGrams must be a whole number of grams from 0 to 1,000,000.", "weightGrams");
    }
    const { available } = levels(await ctx.loaders.stockByProductId.load(product.id));
    return estimateShipping(product.weightGrams, available);
  },
};

export const Inventory: InventoryResolvers = {
  movements(inventory, args, ctx) {
    return ctx.loaders.recentMovements.load({ parentId: inventory.productId, limit: parseFirst(args.first ?? 10) });
  },
};
