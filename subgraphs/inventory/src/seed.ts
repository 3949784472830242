import { catalogSeed } from "@catalog/common";
import type { InventoryPrisma } from "./prisma.ts";

export async function seedInventory(prisma: InventoryPrisma): Promise<boolean> {
  if ((await prisma.stockItem.count()) > 0) return false;
  const { stock, products } = catalogSeed();
  const receivedAt = new Map(products.map((p) => [p.id, p.createdAt]));
  await prisma.$transaction(async (tx) => {
    await tx.stockItem.createMany({ data: stock });
    // Every level has the movement that produced it, so the audit trail adds up from day one.
    await tx.stockMovement.createMany({
      data: stock
        .filter((s) => s.onHand > 0)
        .map((s) => ({
          productId: s.productId,
          delta: s.onHand,
          reason: "RECEIVED" as const,
          note: "Initial stock",
          onHandAfter: s.onHand,
          createdAt: receivedAt.get(s.productId)!,
        })),
    });
  }, { timeout: 120_000 });
  return true;
}
