import DataLoader from "dataloader";
import type { InventoryPrisma, StockItem, StockMovement } from "./prisma.ts";

export interface Loaders {
  stockByProductId: DataLoader<string, StockItem | null>;
  /** Keyed by `${productId}:${limit}`. */
  recentMovements: DataLoader<string, StockMovement[]>;
}

export function createLoaders(prisma: InventoryPrisma): Loaders {
  return {
    stockByProductId: new DataLoader(async (ids) => {
      const rows = await prisma.stockItem.findMany({ where: { productId: { in: [...ids] } } });
      const byId = new Map(rows.map((row) => [row.productId, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    recentMovements: new DataLoader(async (keys) => {
      const byLimit = new Map<number, string[]>();
      for (const key of keys) {
        const [productId, limit] = key.split(":") as [string, string];
        byLimit.set(Number(limit), [...(byLimit.get(Number(limit)) ?? []), productId]);
      }
      const result = new Map<string, StockMovement[]>(keys.map((key) => [key, []]));
      for (const [limit, productIds] of byLimit) {
        const ranked = await prisma.$queryRaw<{ id: string }[]>`
          SELECT id FROM (
            SELECT id, row_number() OVER (PARTITION BY product_id ORDER BY created_at DESC, id DESC) AS n
            FROM stock_movements WHERE product_id = ANY(${productIds}::uuid[])
          ) ranked WHERE n <= ${limit}`;
        if (!ranked.length) continue;
        const rows = await prisma.stockMovement.findMany({
          where: { id: { in: ranked.map((row) => row.id) } },
          orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        });
        for (const row of rows) result.get(`${row.productId}:${limit}`)?.push(row);
      }
      return keys.map((key) => result.get(key) ?? []);
    }),
  };
}
