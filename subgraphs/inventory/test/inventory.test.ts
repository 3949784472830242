import { randomUUID } from "node:crypto";
import type { StartedSubgraph } from "@catalog/common";
import { productsSubgraph } from "@catalog/products";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inventorySubgraph } from "../src/module.ts";
import { MAX_ON_HAND } from "../src/resolvers/Mutation.ts";
import { createCategoryTree, createProduct } from "../../../test/support/fixtures.ts";
import { startTestSubgraph } from "../../../test/support/stack.ts";
import { subgraphHarness, type SubgraphHarness } from "../../../test/support/subgraph.ts";
import { ADMIN } from "../../../test/support/auth.ts";
import type { InventoryPrisma } from "../src/prisma.ts";

// Inventory asks the real products subgraph (over HTTP) whether a product exists before its first stock.
let products: StartedSubgraph<ReturnType<typeof productsSubgraph.createPrisma>>;
let h: SubgraphHarness<InventoryPrisma>;
beforeAll(async () => {
  products = await startTestSubgraph(productsSubgraph);
  h = await subgraphHarness(inventorySubgraph, {
    peers: (name) => (name === "products" ? `${products.url}/graphql` : undefined),
    // Data behaviour is tested as an admin; authorization has its own tests.
    viewer: ADMIN,
  });
});
afterAll(async () => {
  await h?.close();
  await products?.close();
});

/** A product that really exists in the products subgraph, with no stock yet. */
async function realProduct(): Promise<string> {
  const { leaf } = await createCategoryTree(products.prisma);
  return (await createProduct(products.prisma, { categoryId: leaf.id })).id;
}

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
    const productId = await realProduct();
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

  it("refuses stock for a product that does not exist, writing nothing", async () => {
    const productId = randomUUID();
    for (const delta of [5, -1]) {
      const result = await h.execute(ADJUST, { id: productId, d: delta, reason: "RECEIVED" });
      expect(result.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    }
    expect(await h.prisma.stockItem.count({ where: { productId } })).toBe(0);
    expect(await h.prisma.stockMovement.count({ where: { productId } })).toBe(0);
  });

  it("refuses to remove stock from a real product it has never stocked", async () => {
    const productId = await realProduct();
    const result = await h.execute(ADJUST, { id: productId, d: -1, reason: "DAMAGED" });
    expect(result.errors![0]).toMatchObject({ message: "Cannot remove 1 units: only 0 are available.", extensions: { code: "INSUFFICIENT_STOCK" } });
    expect(await h.prisma.stockItem.count({ where: { productId } })).toBe(0);
  });

  it("answers SERVICE_UNAVAILABLE, writing nothing, when the products subgraph cannot be asked", async () => {
    const offline = await subgraphHarness(inventorySubgraph, { peers: () => "http://127.0.0.1:1/graphql", viewer: ADMIN });
    try {
      const productId = await realProduct();
      const result = await offline.execute(ADJUST, { id: productId, d: 5, reason: "RECEIVED" });
      expect(result.errors![0]!.extensions!.code).toBe("SERVICE_UNAVAILABLE");
      expect(await h.prisma.stockItem.count({ where: { productId } })).toBe(0);
    } finally {
      await offline.close();
    }
  });

  it("loses no write when the first stock of a product arrives concurrently", async () => {
    const productId = await realProduct();
    const results = await Promise.all(Array.from({ length: 10 }, () => h.execute(ADJUST, { id: productId, d: 7, reason: "RECEIVED" })));
    expect(results.map((r) => r.errors?.[0]?.message)).toEqual(Array(10).fill(undefined));
    const stock = await h.prisma.stockItem.findUniqueOrThrow({ where: { productId } });
    expect(stock.onHand).toBe(70);
    expect(await h.prisma.stockMovement.count({ where: { productId } })).toBe(10);
  });

  it("refuses a receipt that would take stock past the maximum, without overflowing", async () => {
    const productId = randomUUID();
    await h.prisma.stockItem.create({ data: { productId, onHand: MAX_ON_HAND - 5 } });
    const result = await h.execute(ADJUST, { id: productId, d: 10, reason: "RECEIVED" });
    expect(result.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "delta" });
    expect((await h.prisma.stockItem.findUniqueOrThrow({ where: { productId } })).onHand).toBe(MAX_ON_HAND - 5);
    expect(await h.prisma.stockMovement.count({ where: { productId } })).toBe(0);
  });

  it("rejects a shipping estimate request without a sane weight", async () => {
    const result = await h.execute(
      `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Product { shippingEstimate { cost { amount } } } } }`,
      { r: [{ __typename: "Product", id: randomUUID(), weightGrams: 1e308 }] },
    );
    expect(result.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "weightGrams" });
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
