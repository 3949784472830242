import { catalogSeed } from "@catalog/common";
import type { InventoryPrisma } from "./prisma.ts";
import { reservedMovement } from "./reservations.ts";

export async function seedInventory(prisma: InventoryPrisma): Promise<boolean> {
  if ((await prisma.stockItem.count()) > 0) return false;
  const { stock, products, orders } = catalogSeed();
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
    // The demo's unshipped orders hold their stock, so cancelling or shipping one moves it right.
    const held = orders.filter((order) => order.status === "PENDING" || order.status === "PROCESSING");
    const lines = held.flatMap((order) => {
      const quantities = new Map<string, number>();
      for (const item of order.items) quantities.set(item.productId, (quantities.get(item.productId) ?? 0) + item.quantity);
      return [...quantities].map(([productId, quantity]) => ({ orderId: order.id, productId, quantity, createdAt: order.createdAt }));
    });
    await tx.reservation.createMany({ data: held.map((order) => ({ orderId: order.id, status: "HELD" as const, createdAt: order.createdAt })) });
    await tx.reservationLine.createMany({ data: lines.map(({ createdAt: _createdAt, ...line }) => line) });
    const onHand = new Map(stock.map((s) => [s.productId, s.onHand]));
    await tx.stockMovement.createMany({
      data: lines.map((line) => ({ ...reservedMovement(line.orderId, line, onHand.get(line.productId)!), createdAt: line.createdAt })),
    });
  }, { timeout: 120_000 });
  return true;
}
