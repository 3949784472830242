import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ordersSubgraph } from "../src/module.ts";
import { createOrder } from "../../../test/support/fixtures.ts";
import { subgraphHarness, type SubgraphHarness } from "../../../test/support/subgraph.ts";
import { ADMIN } from "../../../test/support/auth.ts";
import type { OrdersPrisma } from "../src/prisma.ts";

let h: SubgraphHarness<OrdersPrisma>;
beforeAll(async () => {
  h = await subgraphHarness(ordersSubgraph, { viewer: ADMIN }); // data behaviour, tested as an admin
});
afterAll(async () => {
  await h?.close();
});

describe("orders subgraph", () => {
  it("order(id) returns lines with the price paid, and references to User and Product", async () => {
    const userId = randomUUID();
    const productId = randomUUID();
    const order = await createOrder(h.prisma, userId, [{ productId, quantity: 3, unitPrice: "2.50" }]);
    const result = await h.execute(
      `query ($id: ID!) { order(id: $id) { id status itemCount total { amount currency } user { id } shippingAddress { city country line2 } items { quantity unitPrice { amount } lineTotal { amount } product { id } } } }`,
      { id: order.id },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.order).toEqual({
      id: order.id,
      status: "DELIVERED",
      itemCount: 3,
      total: { amount: "7.50", currency: "USD" },
      user: { id: userId },
      shippingAddress: { city: "Testville", country: "DE", line2: null },
      items: [{ quantity: 3, unitPrice: { amount: "2.50" }, lineTotal: { amount: "7.50" }, product: { id: productId } }],
    });
  });

  it("resolves User entities with their orders, newest first, paged by cursor, batched across users", async () => {
    const [alice, bob] = [randomUUID(), randomUUID()];
    const productId = randomUUID();
    const aliceOrders = [];
    for (let i = 0; i < 5; i++) {
      aliceOrders.push(await createOrder(h.prisma, alice, [{ productId, quantity: 1, unitPrice: "1.00" }], new Date(Date.UTC(2026, 0, 1, 0, i))));
    }
    await createOrder(h.prisma, bob, [{ productId, quantity: 1, unitPrice: "1.00" }]);
    const query = `query ($r: [_Any!]!, $after: String) { _entities(representations: $r) { ... on User { id orders(first: 2, after: $after) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } } } }`;
    const first = await h.execute(query, { r: [{ __typename: "User", id: alice }, { __typename: "User", id: bob }] });
    expect(first.errors).toBeUndefined();
    const [a, b] = first.data!._entities as any[];
    expect(a.orders.totalCount).toBe(5);
    expect(a.orders.edges.map((e: any) => e.node.id)).toEqual([aliceOrders[4]!.id, aliceOrders[3]!.id]);
    expect(b.orders.totalCount).toBe(1);
    expect(b.orders.pageInfo.hasNextPage).toBe(false);

    const next = await h.execute(query, { r: [{ __typename: "User", id: alice }], after: a.orders.pageInfo.endCursor });
    const page2 = (next.data!._entities as any[])[0].orders;
    expect(page2.edges.map((e: any) => e.node.id)).toEqual([aliceOrders[2]!.id, aliceOrders[1]!.id]);
    expect(page2.pageInfo.hasNextPage).toBe(true);
  });

  it("rejects a tampered cursor with BAD_USER_INPUT", async () => {
    const tampered = Buffer.from(JSON.stringify(["orders:newest", "yesterday", "not-a-uuid"])).toString("base64url");
    const result = await h.execute(
      `query ($r: [_Any!]!, $after: String) { _entities(representations: $r) { ... on User { orders(after: $after) { totalCount } } } }`,
      { r: [{ __typename: "User", id: randomUUID() }], after: tampered },
    );
    expect(result.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "after" });
  });
});
