import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCategoryTree, createOrder, createProduct, createUser } from "../../test/support/fixtures.ts";
import { countStatements, gql, startStack, type Stack } from "../../test/support/stack.ts";
import { bearer } from "../../test/support/auth.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const DEEP_QUERY = `query Deep($userId: ID!, $first: Int!) {
  user(id: $userId) {
    fullName
    orders(first: $first) {
      edges { node {
        id total { amount }
        items {
          quantity
          product {
            name
            inventory { available }
            shippingEstimate { cost { amount } }
            reviews(first: 3) { edges { node { rating author { fullName } } } }
          }
        }
      } }
    }
  }
}`;

/** A customer with `orders` orders of two lines each, over distinct products with stock and reviews. */
async function customerWithOrders(orders: number) {
  const { products, users, orders: ordersDb, inventory } = stack.prisma;
  const [customer, ...authors] = await Promise.all(Array.from({ length: 4 }, () => createUser(users)));
  const { leaf } = await createCategoryTree(products);
  const catalog: Awaited<ReturnType<typeof createProduct>>[] = [];
  for (let i = 0; i < orders * 2; i++) catalog.push(await createProduct(products, { categoryId: leaf.id, price: "5.00" }));
  await inventory.stockItem.createMany({ data: catalog.map((p, i) => ({ productId: p.id, onHand: 10 + i })) });
  await products.review.createMany({
    data: catalog.flatMap((p, i) => authors.map((a, j) => ({ productId: p.id, authorId: a!.id, rating: 1 + ((i + j) % 5), body: "ok" }))),
  });
  for (let i = 0; i < orders; i++) {
    await createOrder(
      ordersDb,
      customer!.id,
      [catalog[2 * i]!, catalog[2 * i + 1]!].map((p) => ({ productId: p.id, quantity: 1, unitPrice: "5.00" })),
      new Date(Date.UTC(2026, 0, 1) + i * 60_000),
    );
  }
  return customer!;
}


describe("batching", () => {
  it("issues the same number of SQL statements per subgraph for 10 and for 50 orders", async () => {
    const small = await customerWithOrders(10);
    const large = await customerWithOrders(50);

    const measure = async (userId: string, first: number) => {
      let data: any;
      const counts = await countStatements(stack, async () => {
        // As the customer: their own orders are theirs to read.
        const { body } = await gql(stack.gatewayUrl, DEEP_QUERY, { userId, first }, bearer({ id: userId }));
        expect(body.errors).toBeUndefined();
        data = body.data;
      });
      return { counts, data };
    };
    const ten = await measure(small.id, 10);
    const fifty = await measure(large.id, 50);

    // The data is really there: 50 orders, 100 lines, each product with 3 reviews and an author.
    expect(fifty.data.user.orders.edges).toHaveLength(50);
    const lines = fifty.data.user.orders.edges.flatMap((edge: any) => edge.node.items);
    expect(lines).toHaveLength(100);
    expect(lines.every((line: any) => line.product.reviews.edges.length === 3 && line.product.reviews.edges.every((r: any) => r.node.author.fullName))).toBe(true);
    expect(lines.every((line: any) => line.product.inventory.available >= 10)).toBe(true);

    // Five times the list, the same statements: nothing is fetched per row.
    expect(fifty.counts).toEqual(ten.counts);
    for (const [subgraph, count] of Object.entries(fifty.counts)) {
      expect(count, `${subgraph} statements`).toBeGreaterThan(0);
      expect(count, `${subgraph} statements`).toBeLessThanOrEqual(5);
    }
    console.info(`SQL statements per subgraph for the deep query (10 and 50 orders): ${JSON.stringify(fifty.counts)}`);
  });
});

describe("listing with review summaries", () => {
  it("reads the page and its review summaries in one statement, with the same figures the per-product loader gives", async () => {
    const { products, users } = stack.prisma;
    const { leaf } = await createCategoryTree(products);
    const authors = await Promise.all(Array.from({ length: 3 }, () => createUser(users)));
    const catalog = [];
    for (let i = 0; i < 5; i++) {
      catalog.push(await createProduct(products, { categoryId: leaf.id, price: `${10 + i}.00`, createdAt: new Date(Date.UTC(2026, 0, 1 + i)) }));
    }
    // Product i has i reviews (the first none): ratings 5, 4, 3, ... so averages differ per product.
    await products.review.createMany({
      data: catalog.flatMap((p, i) => authors.slice(0, Math.min(i, 3)).map((a, j) => ({ productId: p.id, authorId: a.id, rating: 5 - j, body: "ok" }))),
    });
    const listing = `query Listing($category: ID!, $sort: ProductSort, $after: String) {
      products(first: 2, sort: $sort, after: $after, filter: { categoryId: $category }) {
        edges { cursor node { id ...Summary } }
      }
    }
    fragment Summary on Product { reviewSummary { count averageRating } }`;
    const byLoader = `query One($id: ID!) { product(id: $id) { reviewSummary { count averageRating } } }`;

    for (const sort of ["NEWEST", "PRICE_ASC"]) {
      const seen: { id: string; reviewSummary: unknown }[] = [];
      let after: string | null = null;
      for (let page = 0; page < 3; page++) {
        let body: any;
        const counts = await countStatements(stack, async () => {
          ({ body } = await gql(stack.gatewayUrl, listing, { category: leaf.id, sort, after }));
        });
        expect(body.errors).toBeUndefined();
        // One statement in products for the page and its summaries; none elsewhere.
        expect(counts).toEqual({ users: 0, products: 1, orders: 0, inventory: 0 });
        const edges = body.data.products.edges;
        seen.push(...edges.map((e: any) => e.node));
        after = edges.at(-1).cursor;
      }
      // Every product once, in the order asked for, and the figures the loader computes on its own.
      const expected = sort === "NEWEST" ? [...catalog].reverse() : catalog;
      expect(seen.map((n) => n.id)).toEqual(expected.map((p) => p.id));
      for (const node of seen) {
        const { body } = await gql(stack.gatewayUrl, byLoader, { id: node.id });
        expect(node.reviewSummary).toEqual((body.data as any).product.reviewSummary);
      }
      expect(seen.map((n: any) => n.reviewSummary.count)).toEqual(expected.map((_, i) => (sort === "NEWEST" ? [3, 3, 2, 1, 0][i] : [0, 1, 2, 3, 3][i])));
    }
    // A listing without summaries does not compute them.
    const counts = await countStatements(stack, async () => {
      const { body } = await gql(stack.gatewayUrl, `query($c: ID!) { products(first: 2, filter: { categoryId: $c }) { edges { node { id } } } }`, { c: leaf.id });
      expect((body.data as any).products.edges).toHaveLength(2);
    });
    expect(counts).toEqual({ users: 0, products: 1, orders: 0, inventory: 0 });
  });
});
