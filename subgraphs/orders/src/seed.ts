import { catalogSeed } from "@catalog/common";
import type { OrdersPrisma } from "./prisma.ts";

const CHUNK = 1000;

export async function seedOrders(prisma: OrdersPrisma): Promise<boolean> {
  if ((await prisma.order.count()) > 0) return false;
  const { orders } = catalogSeed();
  const items = orders.flatMap((order) => order.items.map((item) => ({ ...item, orderId: order.id })));
  await prisma.$transaction(async (tx) => {
    for (let i = 0; i < orders.length; i += CHUNK) {
      await tx.order.createMany({
        data: orders.slice(i, i + CHUNK).map(({ items: _items, ...order }) => ({ ...order, updatedAt: order.createdAt })),
      });
    }
    for (let i = 0; i < items.length; i += CHUNK) {
      await tx.orderItem.createMany({ data: items.slice(i, i + CHUNK) });
    }
  }, { timeout: 120_000 });
  return true;
}
