import { groupedInKeyOrder, inKeyOrder, type PeerIdentity } from "@catalog/common";
import DataLoader from "dataloader";
import type { CatalogProduct, Peers } from "./peers.ts";
import type { Order, OrderItem, OrdersPrisma, OrderTransition, Payment } from "./prisma.ts";

/** One page of one user's orders: `limit + 1` rows were asked for, so the extra one means "more". */
export interface OrderPageKey {
  userId: string;
  limit: number;
  after?: { createdAt: Date; id: string };
}

export interface Loaders {
  orderById: DataLoader<string, Order | null>;
  itemsByOrderId: DataLoader<string, OrderItem[]>;
  ordersByUser: DataLoader<OrderPageKey, Order[], string>;
  orderCountByUser: DataLoader<string, number>;
  paymentsByOrderId: DataLoader<string, Payment[]>;
  transitionsByOrderId: DataLoader<string, OrderTransition[]>;
  /** Products as products reports them now (one call per request for every cart line). */
  catalogProduct: DataLoader<string, CatalogProduct | null>;
  /** Units available now, from inventory (one call per request). */
  available: DataLoader<string, number>;
}

export function createLoaders(prisma: OrdersPrisma, peers: Peers, identity: PeerIdentity): Loaders {
  const orderById = new DataLoader<string, Order | null>(async (ids) =>
    inKeyOrder(ids, await prisma.order.findMany({ where: { id: { in: [...ids] } } }), (row) => row.id),
  );
  return {
    orderById,
    itemsByOrderId: new DataLoader(async (orderIds) =>
      groupedInKeyOrder(
        orderIds,
        await prisma.orderItem.findMany({
          where: { orderId: { in: [...orderIds] } },
          orderBy: [{ orderId: "asc" }, { position: "asc" }],
        }),
        (row) => row.orderId,
      ),
    ),
    ordersByUser: new DataLoader(
      async (keys) => {
        // Users in one batch usually share the page arguments; each distinct (limit, after) is one statement.
        const byArgs = new Map<string, OrderPageKey[]>();
        for (const key of keys) {
          const args = `${key.limit}:${key.after?.createdAt.toISOString() ?? ""}:${key.after?.id ?? ""}`;
          byArgs.set(args, [...(byArgs.get(args) ?? []), key]);
        }
        const pages = new Map<string, Order[]>();
        for (const group of byArgs.values()) {
          const { limit, after } = group[0]!;
          const userIds = group.map((key) => key.userId);
          // Newest-first top-N per user in one statement (a window function Prisma's API cannot express).
          const ranked = await prisma.$queryRaw<{ id: string }[]>`
            SELECT id FROM (
              SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY created_at DESC, id DESC) AS n
              FROM orders
              WHERE user_id = ANY(${userIds}::uuid[])
                AND (${after?.createdAt ?? null}::timestamptz IS NULL
                     OR (created_at, id) < (${after?.createdAt ?? null}::timestamptz, ${after?.id ?? null}::uuid))
            ) ranked WHERE n <= ${limit + 1}`;
          const rows = ranked.length
            ? await prisma.order.findMany({
                where: { id: { in: ranked.map((row) => row.id) } },
                orderBy: [{ createdAt: "desc" }, { id: "desc" }],
              })
            : [];
          for (const key of group) pages.set(pageKey(key), []);
          for (const row of rows) {
            orderById.prime(row.id, row);
            pages.get(pageKey({ userId: row.userId, limit, ...(after ? { after } : {}) }))?.push(row);
          }
        }
        return keys.map((key) => pages.get(pageKey(key)) ?? []);
      },
      { cacheKeyFn: pageKey },
    ),
    paymentsByOrderId: new DataLoader(async (orderIds) =>
      groupedInKeyOrder(
        orderIds,
        await prisma.payment.findMany({ where: { orderId: { in: [...orderIds] } }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] }),
        (row) => row.orderId,
      ),
    ),
    transitionsByOrderId: new DataLoader(async (orderIds) =>
      groupedInKeyOrder(
        orderIds,
        await prisma.orderTransition.findMany({ where: { orderId: { in: [...orderIds] } }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] }),
        (row) => row.orderId,
      ),
    ),
    catalogProduct: new DataLoader((ids) => peers.products(identity, ids)),
    available: new DataLoader((ids) => peers.available(identity, ids)),
    orderCountByUser: new DataLoader(async (userIds) => {
      const rows = await prisma.order.groupBy({ by: ["userId"], where: { userId: { in: [...userIds] } }, _count: { _all: true } });
      const counts = new Map(rows.map((row) => [row.userId, row._count._all]));
      return userIds.map((id) => counts.get(id) ?? 0);
    }),
  };
}

function pageKey(key: OrderPageKey): string {
  return `${key.userId}:${key.limit}:${key.after?.createdAt.toISOString() ?? ""}:${key.after?.id ?? ""}`;
}
