import { once } from "node:events";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCategoryTree, createOrder, createProduct, createUser } from "../../test/support/fixtures.ts";
import { gql, startExtraGateway, startStack, type Stack } from "../../test/support/stack.ts";
import { bearer } from "../../test/support/auth.ts";

/** An address where nothing listens: a port taken and released, so a call there is refused. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/graphql`;
}

let stack: Stack;
let fixture: { categoryId: string; productIds: string[]; customer: { id: string } };

beforeAll(async () => {
  stack = await startStack();
  const { products, users, inventory, orders } = stack.prisma;
  const { leaf } = await createCategoryTree(products);
  const [customer, author] = await Promise.all([createUser(users), createUser(users)]);
  const catalog = [await createProduct(products, { categoryId: leaf.id }), await createProduct(products, { categoryId: leaf.id })];
  await inventory.stockItem.createMany({ data: catalog.map((p) => ({ productId: p.id, onHand: 7 })) });
  await products.review.createMany({ data: catalog.map((p) => ({ productId: p.id, authorId: author!.id, rating: 4, body: "Fine." })) });
  await createOrder(orders, customer!.id, [{ productId: catalog[0]!.id, quantity: 1, unitPrice: "10.00" }]);
  fixture = { categoryId: leaf.id, productIds: catalog.map((p) => p.id), customer: customer! };
});
afterAll(async () => {
  await stack?.close();
});

/** A gateway on the same subgraphs but one, whose address refuses connections. */
async function gatewayWithout(subgraph: "inventory" | "users" | "products") {
  return startExtraGateway(stack, { [`${subgraph.toUpperCase()}_SUBGRAPH_URL`]: await deadUrl() });
}

describe("one subgraph down degrades a response instead of erasing it", () => {
  it("inventory down: the listing still lists its products, stock is null, and one error names inventory and where", async () => {
    const gateway = await gatewayWithout("inventory");
    try {
      const query = `query($c: ID!) { products(first: 10, filter: { categoryId: $c }) {
        edges { node { id name reviewSummary { count } inStock inventory { available } } } } }`;
      const { status, body, text } = await gqlText(gateway.url, query, { c: fixture.categoryId });
      expect(status).toBe(200);
      const nodes = (body.data as any).products.edges.map((e: any) => e.node);
      expect(nodes.map((n: any) => n.id).sort()).toEqual([...fixture.productIds].sort());
      for (const node of nodes) {
        expect(node.name).toMatch(/^Product /);
        expect(node.reviewSummary.count).toBe(1);
        expect(node.inStock).toBeNull();
        expect(node.inventory).toBeNull();
      }
      expect(body.errors).toEqual([
        {
          message: "The inventory service is unavailable; try again later.",
          path: ["products", "edges"],
          extensions: { code: "SERVICE_UNAVAILABLE", serviceName: "inventory" },
        },
      ]);
      expect(text).not.toContain("127.0.0.1");

      // The same gateway with inventory back would show stock: the stack's own gateway does.
      const whole = await gql(stack.gatewayUrl, query, { c: fixture.categoryId });
      expect(whole.body.errors).toBeUndefined();
      expect((whole.body.data as any).products.edges.every((e: any) => e.node.inStock === true && e.node.inventory.available === 7)).toBe(true);
    } finally {
      await gateway.close();
    }
  });

  it("users down: a product page keeps its reviews, each with a null author", async () => {
    const gateway = await gatewayWithout("users");
    try {
      const { body } = await gql(gateway.url, `query($id: ID!) { product(id: $id) { name reviews(first: 5) { edges { node { rating body author { fullName } } } } } }`, {
        id: fixture.productIds[0],
      });
      const product = (body.data as any).product;
      expect(product.name).toMatch(/^Product /);
      expect(product.reviews.edges).toEqual([{ node: { rating: 4, body: "Fine.", author: null } }]);
      expect(body.errors).toHaveLength(1);
      expect(body.errors![0]).toMatchObject({ path: ["product", "reviews", "edges"], extensions: { code: "SERVICE_UNAVAILABLE", serviceName: "users" } });
    } finally {
      await gateway.close();
    }
  });

  it("products down: a customer's order history keeps its orders, each line with a null product", async () => {
    const gateway = await gatewayWithout("products");
    try {
      const { body } = await gql(
        gateway.url,
        `{ me { id orders(first: 5) { edges { node { total { amount } items { quantity product { name } } } } } } }`,
        {},
        bearer(fixture.customer),
      );
      const orders = (body.data as any).me.orders.edges.map((e: any) => e.node);
      expect(orders).toEqual([{ total: { amount: "10.00" }, items: [{ quantity: 1, product: null }] }]);
      expect(body.errors).toHaveLength(1);
      expect(body.errors![0]).toMatchObject({ path: ["me", "orders", "edges"], extensions: { code: "SERVICE_UNAVAILABLE", serviceName: "products" } });
    } finally {
      await gateway.close();
    }
  });
});

async function gqlText(url: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${url}`.endsWith("/graphql") ? url : `${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as { data?: unknown; errors?: unknown[] } };
}
