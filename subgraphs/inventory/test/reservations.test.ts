import { randomUUID } from "node:crypto";
import { SERVICE_ROLE, SERVICE_SCOPES, SERVICE_USER_ID, type Viewer } from "@catalog/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inventorySubgraph } from "../src/module.ts";
import type { InventoryPrisma } from "../src/prisma.ts";
import { ADMIN } from "../../../test/support/auth.ts";
import { subgraphHarness, type SubgraphHarness } from "../../../test/support/subgraph.ts";

// What the orders subgraph's saga signs for itself; no user role carries this scope.
const ORDERS_SERVICE: Viewer = { userId: SERVICE_USER_ID, roles: [SERVICE_ROLE], scopes: [SERVICE_SCOPES.STOCK_RESERVE] };

let h: SubgraphHarness<InventoryPrisma>;
beforeAll(async () => {
  h = await subgraphHarness(inventorySubgraph, { viewer: ORDERS_SERVICE });
});
afterAll(async () => {
  await h?.close();
});

const RESERVE = `mutation ($o: ID!, $l: [StockLineInput!]!) { reserveStock(orderId: $o, lines: $l) { ok reservation { status lines { productId quantity } } shortages { productId requested available } } }`;
const RELEASE = `mutation ($o: ID!) { releaseStock(orderId: $o, reason: "test") { status lines { quantity } } }`;
const COMMIT = `mutation ($o: ID!) { commitStock(orderId: $o) { status } }`;

async function stocked(onHand: number) {
  const productId = randomUUID();
  await h.prisma.stockItem.create({ data: { productId, onHand } });
  return productId;
}
const levels = async (productId: string) => {
  const row = await h.prisma.stockItem.findUniqueOrThrow({ where: { productId } });
  return [row.onHand, row.reserved];
};

describe("reservations", () => {
  it("hold all lines or none, and repeating a reserve returns the first one unchanged", async () => {
    const [a, b] = [await stocked(5), await stocked(1)];
    const orderId = randomUUID();
    const short = await h.execute(RESERVE, { o: orderId, l: [{ productId: a, quantity: 2 }, { productId: b, quantity: 2 }] });
    expect(short.data!.reserveStock).toEqual({ ok: false, reservation: null, shortages: [{ productId: b, requested: 2, available: 1 }] });
    expect([await levels(a), await levels(b)]).toEqual([[5, 0], [1, 0]]);
    expect(await h.prisma.reservation.count({ where: { orderId } })).toBe(0);

    const held = await h.execute(RESERVE, { o: orderId, l: [{ productId: a, quantity: 2 }, { productId: b, quantity: 1 }] });
    expect(held.data!.reserveStock).toMatchObject({ ok: true, reservation: { status: "HELD" } });
    const again = await h.execute(RESERVE, { o: orderId, l: [{ productId: a, quantity: 4 }] });
    expect((again.data!.reserveStock as any).reservation.lines).toHaveLength(2);
    expect([await levels(a), await levels(b)]).toEqual([[5, 2], [1, 1]]);
  });

  it("release gives the hold back once; commit sells it once; neither undoes the other", async () => {
    const a = await stocked(5);
    const [released, sold] = [randomUUID(), randomUUID()];
    await h.execute(RESERVE, { o: released, l: [{ productId: a, quantity: 1 }] });
    await h.execute(RESERVE, { o: sold, l: [{ productId: a, quantity: 2 }] });
    expect(await levels(a)).toEqual([5, 3]);
    for (let i = 0; i < 2; i++) expect((await h.execute(RELEASE, { o: released })).data!.releaseStock).toMatchObject({ status: "RELEASED" });
    for (let i = 0; i < 2; i++) expect((await h.execute(COMMIT, { o: sold })).data!.commitStock).toEqual({ status: "COMMITTED" });
    expect(await levels(a)).toEqual([3, 0]);
    expect((await h.execute(COMMIT, { o: released })).errors![0]!.extensions!.code).toBe("CONFLICT");
    expect((await h.execute(RELEASE, { o: sold })).errors![0]!.extensions!.code).toBe("CONFLICT");
    expect((await h.execute(COMMIT, { o: randomUUID() })).errors![0]!.extensions!.code).toBe("NOT_FOUND");
    expect(await levels(a)).toEqual([3, 0]);
    const movements = await h.prisma.stockMovement.findMany({ where: { productId: a } });
    expect(movements.reduce((sum, m) => sum + m.reservedDelta, 0)).toBe(0);
    expect(movements.reduce((sum, m) => sum + m.delta, 0)).toBe(-2);
  });

  it("a release that arrives before its reserve leaves a tombstone: the late reserve holds nothing", async () => {
    const a = await stocked(5);
    const orderId = randomUUID();
    expect((await h.execute(RELEASE, { o: orderId })).data!.releaseStock).toEqual({ status: "RELEASED", lines: [] });
    const late = await h.execute(RESERVE, { o: orderId, l: [{ productId: a, quantity: 1 }] });
    expect(late.data!.reserveStock).toMatchObject({ ok: true, reservation: { status: "RELEASED", lines: [] } });
    expect(await levels(a)).toEqual([5, 0]);
  });

  it("concurrent reserves for one product never hold more than is on hand", async () => {
    const a = await stocked(7);
    const results = await Promise.all(Array.from({ length: 20 }, () => h.execute(RESERVE, { o: randomUUID(), l: [{ productId: a, quantity: 1 }] })));
    expect(results.filter((r) => (r.data!.reserveStock as any).ok)).toHaveLength(7);
    expect(await levels(a)).toEqual([7, 7]);
    // Stock held for orders cannot be adjusted away.
    const adjust = await h.execute(`mutation ($p: ID!) { adjustStock(productId: $p, delta: -1, reason: DAMAGED) { id } }`, { p: a }, ADMIN);
    expect(adjust.errors![0]!.extensions!.code).toBe("INSUFFICIENT_STOCK");
  });

  it("only the orders service's identity may move reserved stock; admins and customers may not", async () => {
    const a = await stocked(5);
    for (const viewer of [ADMIN, null]) {
      const result = await h.execute(RESERVE, { o: randomUUID(), l: [{ productId: a, quantity: 1 }] }, viewer);
      expect(result.errors![0]!.extensions!.code).toBe(viewer ? "FORBIDDEN" : "UNAUTHENTICATED");
      expect((await h.execute(RELEASE, { o: randomUUID() }, viewer)).errors![0]!.extensions!.code).toBe(viewer ? "FORBIDDEN" : "UNAUTHENTICATED");
    }
    expect(await levels(a)).toEqual([5, 0]);
  });

  it("refuses malformed lines with BAD_USER_INPUT", async () => {
    const a = await stocked(5);
    for (const lines of [[], [{ productId: a, quantity: 0 }], [{ productId: a, quantity: 1 }, { productId: a, quantity: 1 }]]) {
      const result = await h.execute(RESERVE, { o: randomUUID(), l: lines });
      expect(result.errors![0]!.extensions!.code).toBe("BAD_USER_INPUT");
    }
    expect(await levels(a)).toEqual([5, 0]);
  });
});
