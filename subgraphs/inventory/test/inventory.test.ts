import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inventorySubgraph } from "../src/module.ts";
import { subgraphHarness, type SubgraphHarness } from "../../../test/support/subgraph.ts";
import type { InventoryPrisma } from "../src/prisma.ts";

let h: SubgraphHarness<InventoryPrisma>;
beforeAll(async () => {
  h = await subgraphHarness(inventorySubgraph);
});
afterAll(async () => {
  await h?.close();
});

const ADJUST = `mutation ($id: ID!, $d: Int!, $reason: StockMovementReason!) { adjustStock(productId: $id, delta: $d, reason: $reason, note: "test") { inventory { onHand reserved available movements { delta reason onHandAfter } } inStock } }`;

describe("inventory subgraph", () => {
  it("resolves Product entities with stock, and a shipping estimate from the weight the gateway provides", async () => {
    const stocked = randomUUID();
    const unknown = randomUUID();
    await h.prisma.stockItem.create({ data: { productId: stocked, onHand: 4, reserved: 4 } });
    const result = await h.execute(
      `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id inStock inventory { onHand reserved available } shippingEstimate { minDays maxDays cost { amount } } } } }`,
      { r: [{ __typename: "Product", id: stocked, weightGrams: 1000 }, { __typename: "Product", id: unknown, weightGrams: 1001 }] },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!._entities).toEqual([
      // All four units are reserved: none available, so it ships as a backorder.
      { id: stocked, inStock: false, inventory: { onHand: 4, reserved: 4, available: 0 }, shippingEstimate: { minDays: 7, maxDays: 14, cost: { amount: "4.99" } } },
      { id: unknown, inStock: false, inventory: { onHand: 0, reserved: 0, available: 0 }, shippingEstimate: { minDays: 7, maxDays: 14, cost: { amount: "6.49" } } },
    ]);
  });

  it("adjustStock records a movement for every change", async () => {
    const productId = randomUUID();
    const received = await h.execute(ADJUST, { id: productId, d: 10, reason: "RECEIVED" });
    expect(received.errors).toBeUndefined();
    const sold = await h.execute(ADJUST, { id: productId, d: -3, reason: "SOLD" });
    expect(sold.data!.adjustStock).toEqual({
      inventory: {
        onHand: 7,
        reserved: 0,
        available: 7,
        movements: [
          { delta: -3, reason: "SOLD", onHandAfter: 7 },
          { delta: 10, reason: "RECEIVED", onHandAfter: 10 },
        ],
      },
      inStock: true,
    });
  });

  it.each([
    ["zero delta", 0],
    ["a delta beyond the limit", 100_001],
  ])("rejects %s with BAD_USER_INPUT and writes nothing", async (_name, delta) => {
    const productId = randomUUID();
    await h.prisma.stockItem.create({ data: { productId, onHand: 1 } });
    const result = await h.execute(ADJUST, { id: productId, d: delta, reason: "CORRECTION" });
    expect(result.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "delta" });
    expect(await h.prisma.stockMovement.count({ where: { productId } })).toBe(0);
  });

  it("refuses to remove stock from a product it has never stocked", async () => {
    const productId = randomUUID();
    const result = await h.execute(ADJUST, { id: productId, d: -1, reason: "DAMAGED" });
    expect(result.errors![0]!.extensions!.code).toBe("INSUFFICIENT_STOCK");
    expect(await h.prisma.stockItem.count({ where: { productId } })).toBe(0);
  });

  it("loses no write when many adjustments race on the same product", async () => {
    const productId = randomUUID();
    await h.prisma.stockItem.create({ data: { productId, onHand: 20 } });
    // 30 concurrent removals of one unit from 20: exactly 20 succeed, the rest are refused, never negative.
    const results = await Promise.all(Array.from({ length: 30 }, () => h.execute(ADJUST, { id: productId, d: -1, reason: "SOLD" })));
    const succeeded = results.filter((r) => !r.errors).length;
    const refused = results.filter((r) => r.errors?.[0]?.extensions?.code === "INSUFFICIENT_STOCK").length;
    expect(succeeded).toBe(20);
    expect(refused).toBe(10);
    const stock = await h.prisma.stockItem.findUniqueOrThrow({ where: { productId } });
    expect(stock.onHand).toBe(0);
    expect(await h.prisma.stockMovement.count({ where: { productId } })).toBe(20);
  });
});
