import { batchTopPerParent, inKeyOrder, newestPerParent, topKey, type Database, type TopKey } from "@catalog/common";
import DataLoader from "dataloader";
import type { InventoryPrisma, StockItem, StockMovement } from "./prisma.ts";

const MOVEMENT_COLUMNS = ["id", "product_id", "delta", "reason", "note", "on_hand_after", "reserved_delta", "order_id", "created_at"] as const;

export interface Loaders {
  stockByProductId: DataLoader<string, StockItem | null>;
  /** The newest `limit` movements of each product. */
  recentMovements: DataLoader<TopKey, StockMovement[], string>;
}

export function createLoaders(prisma: InventoryPrisma, db: Database): Loaders {
  return {
    // Every product on every listing asks for its stock: one statement straight to the driver
    // (Database.read), past Prisma's client, which cost more CPU than PostgreSQL spends on it.
    stockByProductId: new DataLoader(async (ids) =>
      inKeyOrder(
        ids,
        await db.read<StockItem>(
          `SELECT product_id::text AS "productId", on_hand AS "onHand", reserved, updated_at AS "updatedAt"
           FROM stock_items WHERE product_id = ANY($1::uuid[])`,
          [[...ids]],
        ),
        (row) => row.productId,
      ),
    ),
    recentMovements: new DataLoader(
      (keys) =>
        batchTopPerParent(
          keys,
          (productIds, limit) => newestPerParent<StockMovement>(prisma, "stock_movements", MOVEMENT_COLUMNS, productIds, limit),
          (movement) => movement.productId,
        ),
      { cacheKeyFn: topKey },
    ),
  };
}
