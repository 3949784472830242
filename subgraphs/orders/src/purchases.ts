import { parseId } from "@catalog/common";
import type { OrderStatus } from "./generated/prisma/enums.ts";
import type { OrdersPrisma } from "./prisma.ts";

/**
 * The statuses in which an order counts as a purchase: paid (PROCESSING) and on from there. A
 * PENDING order is not paid yet and a CANCELLED one was never paid or was refunded
 * (docs/decisions/0020). A partner's own orders (placedByPartner) are no customer's purchase.
 */
export const PURCHASED_STATUSES: readonly OrderStatus[] = ["PROCESSING", "SHIPPED", "DELIVERED"];

/** At most this many products per question (a review asks about one). */
const MAX_PRODUCT_IDS = 100;

/** Which of `productIds` the user has bought, in one statement. */
export async function purchasedProducts(prisma: OrdersPrisma, args: { userId: string; productIds: readonly string[] }): Promise<string[]> {
  const userId = parseId(args.userId, "userId");
  const productIds = [...new Set(args.productIds.slice(0, MAX_PRODUCT_IDS).map((id) => parseId(id, "productIds")))];
  if (productIds.length === 0) return [];
  const rows = await prisma.orderItem.findMany({
    where: {
      productId: { in: productIds },
      order: { userId, placedByPartner: false, status: { in: [...PURCHASED_STATUSES] } },
    },
    select: { productId: true },
    distinct: ["productId"],
  });
  return rows.map((row) => row.productId);
}
