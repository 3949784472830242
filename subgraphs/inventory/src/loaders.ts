import { batchTopPerParent, inKeyOrder, newestIdsPerParent } from "@catalog/common";
import DataLoader from "dataloader";
import type { InventoryPrisma, StockItem, StockMovement } from "./prisma.ts";

export interface Loaders {
  stockByProductId: DataLoader<string, StockItem | null>;
  /** Keyed by `topKey(productId, limit)`: the newest movements of each product. */
  recentMovements: DataLoader<string, StockMovement[]>;
}

export function createLoaders(prisma: InventoryPrisma): Loaders {
  return {
    stockByProductId: new DataLoader(async (ids) =>
      inKeyOrder(ids, await prisma.stockItem.findMany({ where: { productId: { in: [...ids] } } }), (row) => row.productId),
    ),
    recentMovements: new DataLoader((keys) =>
      batchTopPerParent(
        keys,
        async (productIds, limit) => {
          const ids = await newestIdsPerParent(prisma, "stock_movements", "product_id", productIds, limit);
          if (!ids.length) return [];
          return prisma.stockMovement.findMany({ where: { id: { in: ids } }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
        },
        (movement) => movement.productId,
      ),
    ),
  };
}
